//! Tests of kfunc calls, BTF-typed pointers and the sleepable rules, against the running
//! kernel's BTF (`/sys/kernel/btf/vmlinux`; skipped with a message when it is missing).
//! Each rejection is checked for the kernel's message.

use crate::test_support::located;
use crate::{VerifyInput, VerifyOutcome, verify};
use lull_abi::{AttachType, ProgType};
use lull_btf::{Btf, Kind};
use std::sync::OnceLock;

fn vmlinux() -> Option<&'static Btf> {
    static BTF: OnceLock<Option<Btf>> = OnceLock::new();
    let b = BTF.get_or_init(|| Btf::vmlinux().ok()).as_ref();
    if b.is_none() {
        eprintln!("skipped: no kernel BTF at {}", lull_btf::VMLINUX_PATH);
    }
    b
}

/// Replaces `{name}` with the kernel BTF id of function `name` and `{struct.field}` with the
/// field's byte offset.
fn expand(btf: &Btf, text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("closing brace") + start;
        let key = &rest[start + 1..end];
        let v = match key.split_once('.') {
            Some((s, f)) => {
                let sid = btf.find_by_name(s, Some(Kind::Struct)).expect("struct");
                let m = btf.find_member(sid, f).unwrap().expect("member");
                (m.bit_offset / 8).to_string()
            }
            None => btf
                .find_by_name(key, Some(Kind::Func))
                .unwrap_or_else(|| panic!("no kfunc {key}"))
                .to_string(),
        };
        out.push_str(&v);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

pub(crate) struct Prog {
    text: &'static str,
    prog_type: ProgType,
    attach: Option<AttachType>,
    target: Option<&'static str>,
    sleepable: bool,
}

pub(crate) fn prog(text: &'static str) -> Prog {
    Prog {
        text,
        prog_type: ProgType::Syscall,
        attach: None,
        target: None,
        sleepable: true,
    }
}

impl Prog {
    pub(crate) fn ty(
        mut self,
        t: ProgType,
        attach: Option<AttachType>,
        target: Option<&'static str>,
    ) -> Self {
        self.prog_type = t;
        self.attach = attach;
        self.target = target;
        self
    }
    pub(crate) fn sleepable(mut self, s: bool) -> Self {
        self.sleepable = s;
        self
    }
    pub(crate) fn run(&self) -> Option<VerifyOutcome> {
        let btf = vmlinux()?;
        let insns = located(&expand(btf, self.text));
        let mut input = VerifyInput::new(&insns, self.prog_type);
        input.expected_attach = self.attach;
        input.attach_target = self.target.map(String::from);
        input.sleepable = self.sleepable;
        input.kernel_btf = Some(btf);
        input.log_level = 1;
        Some(verify(&input))
    }
    pub(crate) fn accept(&self) {
        if let Some(o) = self.run() {
            assert!(o.accepted, "expected accept, got:\n{}", o.log);
            self.compare_with_kernel(None);
        }
    }
    pub(crate) fn reject(&self, msg: &str) {
        if let Some(o) = self.run() {
            let e = o
                .error
                .as_ref()
                .unwrap_or_else(|| panic!("expected reject: {msg}"));
            assert!(e.message.contains(msg), "expected `{msg}`, got:\n{}", o.log);
            assert!(e.unsupported.is_none(), "{}", e.message);
            self.compare_with_kernel(e.message.lines().last());
        }
    }

    /// Loads the same instructions into the running kernel with `kload` (`LULL_KLOAD`, default
    /// `/tmp/kload`, built from `shared/tools/kload`) when running as root, and checks that the
    /// kernel agrees: same verdict, and for a rejection the last line of Lull's message as the
    /// kernel's last log line. Program
    /// types this kernel cannot load (LSM, fentry) are left to the kernel source.
    fn compare_with_kernel(&self, msg: Option<&str>) {
        let kload = std::env::var("LULL_KLOAD").unwrap_or_else(|_| "/tmp/kload".into());
        let loadable = matches!(self.prog_type, ProgType::Syscall | ProgType::SocketFilter)
            || self.attach == Some(AttachType::TraceIter);
        let Some(btf) = vmlinux() else { return };
        if !loadable {
            return; // LSM and fentry cannot be loaded on this kernel: the source decides.
        }
        if !std::path::Path::new(&kload).exists() || !is_root() {
            eprintln!("kernel comparison skipped (needs root and {kload})");
            return;
        }
        let insns: Vec<_> = located(&expand(btf, self.text))
            .iter()
            .map(|l| l.insn)
            .collect();
        let bytes: Vec<u8> = lull_isa::encode(&insns)
            .into_iter()
            .flat_map(|r| r.to_bytes())
            .collect();
        let path = std::env::temp_dir().join(format!(
            "lull-kfunc-{}-{:x}.bin",
            std::process::id(),
            fxhash(self.text)
        ));
        std::fs::write(&path, bytes).expect("write program");
        let mut cmd = std::process::Command::new(&kload);
        cmd.arg("--raw")
            .arg(&path)
            .arg("--type")
            .arg(self.prog_type.name());
        if self.attach == Some(AttachType::TraceIter) {
            cmd.args(["--eat", "trace_iter"]);
        }
        if let Some(t) = self.target {
            cmd.args(["--target", t]);
        }
        cmd.arg(if self.sleepable {
            "--sleepable"
        } else {
            "--nosleep"
        });
        let out = cmd.output().expect("run kload");
        let _ = std::fs::remove_file(&path);
        let line = String::from_utf8_lossy(&out.stdout);
        let accepted = line.contains("\"accepted\":true");
        assert_eq!(
            accepted,
            msg.is_none(),
            "kernel disagrees: {line}\n{}",
            self.text
        );
        if let Some(m) = msg {
            assert!(line.contains(m), "kernel says: {line}");
        }
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
    })
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

const LOCK: &str = "call kernel-function#{bpf_rcu_read_lock}\n";

#[test]
fn balanced_rcu_region_is_accepted() {
    prog("call kernel-function#{bpf_rcu_read_lock}\ncall kernel-function#{bpf_rcu_read_unlock}\nr0 = 0\nexit")
        .accept();
    assert!(LOCK.contains("rcu"));
}

#[test]
fn nested_and_unmatched_rcu_locks_are_rejected() {
    prog("call kernel-function#{bpf_rcu_read_lock}\ncall kernel-function#{bpf_rcu_read_lock}\nr0 = 0\nexit")
        .reject("nested rcu read lock (kernel function bpf_rcu_read_lock)");
    prog("call kernel-function#{bpf_rcu_read_unlock}\nr0 = 0\nexit")
        .reject("unmatched rcu read unlock (kernel function bpf_rcu_read_unlock)");
}

#[test]
fn exit_inside_rcu_or_preempt_region_is_rejected() {
    prog("call kernel-function#{bpf_rcu_read_lock}\nr0 = 0\nexit").reject(
        "BPF_EXIT instruction in main prog cannot be used inside bpf_rcu_read_lock-ed region",
    );
    prog("call kernel-function#{bpf_preempt_disable}\nr0 = 0\nexit").reject(
        "BPF_EXIT instruction in main prog cannot be used inside bpf_preempt_disable-ed region",
    );
}

/// `bpf_copy_from_user(fp-8, 8, 0)`.
const COPY_FROM_USER: &str = "r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 148\n";

#[test]
fn sleepable_helper_in_regions() {
    prog("r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 148\nr0 = 0\nexit").accept();
    prog("call kernel-function#{bpf_rcu_read_lock}\nr1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 148\ncall kernel-function#{bpf_rcu_read_unlock}\nr0 = 0\nexit")
        .reject("sleepable helper bpf_copy_from_user#148 in rcu_read_lock region");
    prog("call kernel-function#{bpf_preempt_disable}\nr1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 148\ncall kernel-function#{bpf_preempt_enable}\nr0 = 0\nexit")
        .reject("sleepable helper bpf_copy_from_user#148 in non-preemptible region");
    assert!(COPY_FROM_USER.contains("148"));
}

#[test]
fn sleepable_kfunc_rules() {
    // bpf_copy_from_user_str(dst, dst__sz, unsafe_ptr__ign, flags)
    let call = "r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\nr4 = 0\ncall kernel-function#{bpf_copy_from_user_str}\n";
    assert!(call.contains("str"));
    prog("r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\nr4 = 0\ncall kernel-function#{bpf_copy_from_user_str}\nr0 = 0\nexit")
        .accept();
    prog("r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\nr4 = 0\ncall kernel-function#{bpf_copy_from_user_str}\nr0 = 0\nexit")
        .ty(ProgType::Tracing, Some(AttachType::TraceIter), Some("task"))
        .sleepable(false)
        .reject("program must be sleepable to call sleepable kfunc bpf_copy_from_user_str");
    prog("call kernel-function#{bpf_rcu_read_lock}\nr1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\nr4 = 0\ncall kernel-function#{bpf_copy_from_user_str}\ncall kernel-function#{bpf_rcu_read_unlock}\nr0 = 0\nexit")
        .reject("kernel func bpf_copy_from_user_str is sleepable within rcu_read_lock region");
    // A memory/size pair that does not fit.
    prog("r1 = r10\nr1 += -8\nr2 = 16\nr3 = 0\nr4 = 0\ncall kernel-function#{bpf_copy_from_user_str}\nr0 = 0\nexit")
        .reject("arg#0 arg#1 memory, len pair leads to invalid memory access");
}

/// `bpf_task_acquire(bpf_get_current_task_btf()->real_parent)`, released when not NULL.
const ACQUIRE_PARENT: &str = "call 158\nr1 = *(u64 *)(r0 +{task_struct.real_parent})\ncall kernel-function#{bpf_task_acquire}\nif r0 == 0 goto l0\nr1 = r0\ncall kernel-function#{bpf_task_release}\nl0:\n";

#[test]
fn rcu_pointers_in_sleepable_programs_need_the_lock() {
    assert!(ACQUIRE_PARENT.contains("real_parent"));
    let bare = "call 158\nr1 = *(u64 *)(r0 +{task_struct.real_parent})\ncall kernel-function#{bpf_task_acquire}\nif r0 == 0 goto l0\nr1 = r0\ncall kernel-function#{bpf_task_release}\nl0:\nr0 = 0\nexit";
    let locked = "call kernel-function#{bpf_rcu_read_lock}\ncall 158\nr1 = *(u64 *)(r0 +{task_struct.real_parent})\ncall kernel-function#{bpf_task_acquire}\nr6 = r0\ncall kernel-function#{bpf_rcu_read_unlock}\nif r6 == 0 goto l0\nr1 = r6\ncall kernel-function#{bpf_task_release}\nl0:\nr0 = 0\nexit";
    prog(bare).reject("R1 must be a rcu pointer");
    prog(locked).accept();
    // A non-sleepable program runs inside an RCU section as a whole.
    prog(bare)
        .ty(ProgType::Tracing, Some(AttachType::TraceIter), Some("task"))
        .sleepable(false)
        .accept();
    // A sleepable iterator gets the same rule as a syscall program.
    prog(bare)
        .ty(ProgType::Tracing, Some(AttachType::TraceIter), Some("task"))
        .reject("R1 must be a rcu pointer");
    // After the unlock the pointer is untrusted.
    prog("call kernel-function#{bpf_rcu_read_lock}\ncall 158\nr6 = *(u64 *)(r0 +{task_struct.real_parent})\ncall kernel-function#{bpf_rcu_read_unlock}\nr1 = r6\ncall kernel-function#{bpf_task_acquire}\nif r0 == 0 goto l0\nr1 = r0\ncall kernel-function#{bpf_task_release}\nl0:\nr0 = 0\nexit")
        .reject("R1 must be a rcu pointer");
}

#[test]
fn acquired_references_must_be_released() {
    prog("r1 = 1\ncall kernel-function#{bpf_task_from_pid}\nr0 = 0\nexit")
        .reject("Unreleased reference id=");
    prog("r1 = 1\ncall kernel-function#{bpf_task_from_pid}\nif r0 == 0 goto l0\nr1 = r0\ncall kernel-function#{bpf_task_release}\nl0:\nr0 = 0\nexit")
        .accept();
    prog("r1 = 1\ncall kernel-function#{bpf_task_from_pid}\nr1 = r0\ncall kernel-function#{bpf_task_release}\nr0 = 0\nexit")
        .reject("Possibly NULL pointer passed to trusted arg0");
    prog("call 158\nr1 = r0\ncall kernel-function#{bpf_task_release}\nr0 = 0\nexit")
        .reject("release kernel function bpf_task_release expects refcounted PTR_TO_BTF_ID");
}

#[test]
fn kfunc_sets_depend_on_the_program_type() {
    prog("r1 = 1\ncall kernel-function#{bpf_task_from_pid}\nr0 = 0\nexit")
        .ty(ProgType::SocketFilter, None, None)
        .sleepable(false)
        .reject("calling kernel function bpf_task_from_pid is not allowed");
}

#[test]
fn iterator_context_is_btf_typed() {
    // ctx->task may be NULL; its real_parent is RCU-protected.
    let text = "r1 = *(u64 *)(r1 +8)\nif r1 == 0 goto l0\nr1 = *(u64 *)(r1 +{task_struct.real_parent})\ncall kernel-function#{bpf_task_acquire}\nif r0 == 0 goto l0\nr1 = r0\ncall kernel-function#{bpf_task_release}\nl0:\nr0 = 0\nexit";
    let iter = |s| {
        prog(text)
            .ty(ProgType::Tracing, Some(AttachType::TraceIter), Some("task"))
            .sleepable(s)
    };
    iter(false).accept();
    iter(true).reject("R1 must be a rcu pointer");
    prog("r1 = *(u64 *)(r1 +8)\nr0 = *(u32 *)(r1 +0)\nr0 = 0\nexit")
        .ty(ProgType::Tracing, Some(AttachType::TraceIter), Some("task"))
        .reject("invalid mem access 'trusted_ptr_or_null_'");
}

#[test]
fn sleepable_attach_targets() {
    prog("r0 = 0\nexit")
        .ty(ProgType::Lsm, Some(AttachType::LsmMac), Some("task_free"))
        .reject("bpf_lsm_task_free is not sleepable");
    prog("r0 = 0\nexit")
        .ty(
            ProgType::Lsm,
            Some(AttachType::LsmMac),
            Some("bprm_committed_creds"),
        )
        .accept();
    prog("r0 = 0\nexit")
        .ty(
            ProgType::Tracing,
            Some(AttachType::TraceFentry),
            Some("vfs_read"),
        )
        .reject("vfs_read is not sleepable");
    prog("r0 = 0\nexit")
        .ty(
            ProgType::Tracing,
            Some(AttachType::TraceFentry),
            Some("__x64_sys_setdomainname"),
        )
        .accept();
}

#[test]
fn lsm_hooks_decide_the_return_range_and_may_be_disabled() {
    let lsm = |text, hook| {
        prog(text)
            .ty(ProgType::Lsm, Some(AttachType::LsmMac), Some(hook))
            .sleepable(false)
    };
    lsm("r0 = 1\nexit", "file_mprotect")
        .reject("R0 has smin=1 smax=1 should have been in [-4095, 0]");
    lsm("r0 = 1\nexit", "audit_rule_known").accept();
    lsm("r0 = 2\nexit", "audit_rule_known").reject("should have been in [0, 1]");
    lsm("r0 = 4096\nexit", "file_free_security").accept();
    lsm("r0 = 0\nexit", "getprocattr").reject("points to disabled hook bpf_lsm_getprocattr");
}

#[test]
fn d_path_only_from_allowed_functions() {
    // bpf_d_path(NULL path is rejected later; only the attach point matters here)
    let text = "r1 = 0\nr2 = r10\nr2 += -8\nr3 = 8\ncall 147\nr0 = 0\nexit";
    prog(text)
        .ty(
            ProgType::Tracing,
            Some(AttachType::TraceFentry),
            Some("d_path"),
        )
        .sleepable(false)
        .reject("helper call is not allowed in probe");
}
