//! The trace stream: where `bpf_trace_printk`, `bpf_trace_vprintk` and `bpf_printk` output goes
//! (the kernel's `trace_pipe`). A host installs its own [`TraceSink`]; the default
//! [`TraceBuffer`] keeps the lines for the caller to drain (what `lull run` prints).

use std::sync::Mutex;

/// One line of trace output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceRecord {
    /// Virtual CPU of the program that printed it.
    pub cpu: u32,
    /// Thread id of the task it ran for.
    pub pid: u32,
    /// The formatted message (without a trailing newline).
    pub message: String,
}

/// Receives trace output.
pub trait TraceSink: Send + Sync {
    /// Called once per `bpf_trace_printk`-family call.
    fn emit(&self, record: TraceRecord);
}

/// A sink that keeps every line until drained.
#[derive(Debug, Default)]
pub struct TraceBuffer {
    lines: Mutex<Vec<TraceRecord>>,
}

impl TraceBuffer {
    /// An empty buffer.
    pub fn new() -> TraceBuffer {
        TraceBuffer::default()
    }

    /// Takes the lines emitted so far.
    pub fn drain(&self) -> Vec<TraceRecord> {
        std::mem::take(&mut *self.lines.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl TraceSink for TraceBuffer {
    fn emit(&self, record: TraceRecord) {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(record);
    }
}
