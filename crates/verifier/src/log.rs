//! The verifier log, formatted like the kernel's (`kernel/bpf/log.c`): level 1 keeps the path to
//! the error (the log is rewound when a path finishes), level 2 keeps everything and prints
//! the state at each new path and after every instruction.

use crate::explore::Verifier;
use std::fmt::Write;

/// Column the register state after an instruction is aligned to (`BPF_LOG_ALIGNMENT`).
const ALIGN: usize = 40;

/// The log buffer.
pub(crate) struct Log {
    level: u32,
    buf: String,
    /// Where the last instruction line starts, to append its state on the same line.
    insn_line: Option<usize>,
    /// The line-info record printed last (`verbose_linfo` prints each record once in a row).
    last_linfo: Option<usize>,
}

impl Log {
    pub fn new(level: u32) -> Self {
        Log {
            level,
            buf: String::new(),
            insn_line: None,
            last_linfo: None,
        }
    }
    pub fn level(&self) -> u32 {
        self.level
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    /// Rewinds to an earlier length (`bpf_vlog_reset`).
    pub fn truncate(&mut self, pos: usize) {
        self.buf.truncate(pos);
        self.insn_line = None;
        self.last_linfo = None;
    }
    /// Appends a line.
    pub fn line(&mut self, args: std::fmt::Arguments<'_>) {
        if self.level == 0 {
            return;
        }
        let _ = self.buf.write_fmt(args);
        self.buf.push('\n');
        self.insn_line = None;
    }
    pub fn into_string(self) -> String {
        self.buf
    }
}

impl Verifier<'_> {
    /// `N: (op) text` for the current instruction.
    pub(crate) fn log_insn(&mut self) {
        let Some(insn) = self.prog.slots[self.insn_idx] else {
            return;
        };
        let names = |id: i32| {
            (0..crate::proto::MAX_ID)
                .contains(&id)
                .then(|| crate::proto::helper_name(id))
        };
        let opts = lull_isa::disasm::Options {
            helper_name: Some(&names),
            opcode_prefix: true,
            ..lull_isa::disasm::Options::kernel()
        };
        let text = lull_isa::disasm::format_insn(&insn, &opts);
        // verbose_linfo: `; <source line> @ <file>:<line>` when the source line changes.
        if let Some(li) = &self.input.line_info {
            let i = li.partition_point(|l| l.slot <= self.insn_idx);
            if let Some(i) = i.checked_sub(1)
                && self.log.last_linfo != Some(i)
            {
                self.log.last_linfo = Some(i);
                let l = &li[i];
                let file = l.file.rsplit('/').next().unwrap_or(&l.file);
                let _ = writeln!(self.log.buf, "; {} @ {}:{}", l.text.trim(), file, l.line);
            }
        }
        let start = self.log.buf.len();
        let _ = writeln!(self.log.buf, "{}: {}", self.insn_idx, text);
        self.log.insn_line = Some(start);
    }

    /// Appends `; R0=...` for the registers the instruction wrote (`print_insn_state`).
    pub(crate) fn log_scratched(&mut self) {
        if self.scratched == 0 {
            return;
        }
        let mut s = String::new();
        let fr = self.cur.cur();
        crate::state::fmt::write_frame(&mut s, fr, &self.cur, &self.maps, Some(self.scratched));
        if s.is_empty() {
            return;
        }
        match self.log.insn_line {
            Some(start) if self.log.buf.ends_with('\n') => {
                self.log.buf.pop();
                let width = self.log.buf.len() - start;
                let pad = if width < ALIGN { ALIGN - width } else { 1 };
                let _ = writeln!(self.log.buf, "{:pad$};{s}", "");
            }
            _ => {
                let _ = writeln!(self.log.buf, "{}:{s}", self.insn_idx);
            }
        }
        self.log.insn_line = None;
    }
}

/// `BPF_LOG_STATS`: the log level bit that adds the verification time and stack depths.
pub(crate) const LEVEL_STATS: u32 = 4;

/// The statistics lines `print_verification_stats` adds at `BPF_LOG_STATS`: the verification
/// time and the stack depth of each subprogram (`stack depth 8+16`).
pub(crate) fn stats_lines(time: std::time::Duration, stack_depths: &[u32]) -> String {
    let depths: Vec<String> = stack_depths.iter().map(u32::to_string).collect();
    let depths = if depths.is_empty() {
        "0".to_string()
    } else {
        depths.join("+")
    };
    format!(
        "verification time {} usec\nstack depth {depths}\n",
        time.as_micros()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn stats_lines_list_every_subprogram() {
        let s = super::stats_lines(std::time::Duration::from_micros(12), &[8, 16, 0]);
        assert_eq!(s, "verification time 12 usec\nstack depth 8+16+0\n");
    }
}
