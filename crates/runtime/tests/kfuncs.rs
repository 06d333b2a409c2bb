//! Programs calling kfuncs (`tests/progs/kfuncs.c`), verified against the running kernel's BTF
//! and run in checked and trusted mode. The expected values of the socket filters are the
//! live kernel's (6.18: `bpftool prog loadall kfuncs.o /sys/fs/bpf/k && bpftool prog run
//! pinned /sys/fs/bpf/k/<prog> data_in <64 zero bytes>`). The tests print SKIPPED and pass
//! vacuously without clang-19 or `/sys/kernel/btf/vmlinux`.

mod support;

use std::ffi::CString;
use std::path::Path;

use lull_runtime::{ExecMode, LoadError, LoadedObject, Registry, Runtime, RuntimeOptions, TestRun};

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// `kfuncs.c` compiled, opened against `rt`'s kernel BTF and loaded into `rt`.
fn load(rt: &Runtime) -> Option<LoadedObject> {
    if !Path::new(VMLINUX).exists() {
        eprintln!("SKIPPED: {VMLINUX} is missing (kfunc ids cannot be resolved)");
        return None;
    }
    let path = support::compile("kfuncs")?;
    let btf = rt
        .kernel_btf()
        .expect("the runtime reads the machine's kernel BTF");
    let opts = lull_object::ParseOptions {
        target_btf: Some(btf),
        ..Default::default()
    };
    let object = lull_object::Object::open(&path, &opts).expect("parse object");
    Some(rt.load(object).expect("load object"))
}

fn runtime(mode: ExecMode) -> Runtime {
    Runtime::with_options(RuntimeOptions {
        cpus: Some(1),
        mode,
        ..RuntimeOptions::default()
    })
}

fn both_modes(f: impl Fn(&LoadedObject, ExecMode)) {
    for mode in [ExecMode::Checked, ExecMode::Trusted] {
        if let Some(obj) = load(&runtime(mode)) {
            f(&obj, mode);
        }
    }
}

/// r0 of a socket filter run over 64 zero bytes, as the kernel's `int`.
fn run_socket(obj: &LoadedObject, prog: &str, mode: ExecMode) -> i32 {
    let p = obj
        .program(prog)
        .unwrap_or_else(|e| panic!("{prog} ({mode:?}): {e}"));
    p.test_run(&TestRun {
        data: vec![0; 64],
        ..TestRun::default()
    })
    .unwrap_or_else(|e| panic!("{prog} ({mode:?}): {e}"))
    .retval as u32 as i32
}

#[test]
fn number_iterator_sums_a_range_and_skips_an_empty_one() {
    both_modes(|obj, mode| assert_eq!(run_socket(obj, "num_sum", mode), 42, "{mode:?}"));
}

#[test]
fn number_iterator_errors_match_the_kernel() {
    // Empty range: 0; over BPF_MAX_LOOPS: -E2BIG; reversed: -EINVAL; no value from any of
    // them; exactly BPF_MAX_LOOPS from INT_MIN: accepted and yields a value.
    both_modes(|obj, mode| assert_eq!(run_socket(obj, "num_errors", mode), 722, "{mode:?}"));
}

#[test]
fn bits_iterator_visits_set_bits_of_one_and_two_words() {
    // Bits 0, 2, 63, 64, 65 then 4, 7: sum 205, count 7.
    both_modes(|obj, mode| assert_eq!(run_socket(obj, "bits", mode), 20507, "{mode:?}"));
}

#[test]
fn bits_iterator_errors_match_the_kernel() {
    // NULL: -EINVAL, no words: -EINVAL, 512 words: -E2BIG, and nothing iterated.
    both_modes(|obj, mode| assert_eq!(run_socket(obj, "bits_errors", mode), 222207, "{mode:?}"));
}

#[test]
fn rcu_and_preemption_markers_run() {
    both_modes(|obj, mode| assert_eq!(run_socket(obj, "sections", mode), 1, "{mode:?}"));
}

/// Runs `copy_str` with `src`; returns r0 and the 16 bytes it copied out.
fn copy_str(obj: &LoadedObject, src: u64) -> (i32, Vec<u8>) {
    let p = obj.program("copy_str").expect("copy_str");
    let mut ctx = src.to_ne_bytes().to_vec();
    ctx.extend_from_slice(&[0xaa; 16]);
    let out = p
        .test_run(&TestRun {
            ctx: Some(ctx),
            ..TestRun::default()
        })
        .expect("run copy_str");
    (out.retval as u32 as i32, out.ctx_out[8..24].to_vec())
}

#[test]
fn copy_from_user_str_copies_the_tasks_string() {
    let s = CString::new("hello, kfunc").unwrap();
    let long = CString::new("a string longer than sixteen bytes").unwrap();
    both_modes(|obj, mode| {
        let (r, out) = copy_str(obj, s.as_ptr() as u64);
        assert_eq!(r, 13, "{mode:?}: length with the NUL");
        assert_eq!(&out[..13], b"hello, kfunc\0", "{mode:?}");
        // Truncated to 15 bytes and a NUL.
        let (r, out) = copy_str(obj, long.as_ptr() as u64);
        assert_eq!(r, 16, "{mode:?}");
        assert_eq!(&out[..], b"a string longer\0", "{mode:?}");
        // An unmapped address: -EFAULT.
        let (r, _) = copy_str(obj, 8);
        assert_eq!(r, -14, "{mode:?}");
    });
}

#[test]
fn a_kfunc_the_runtime_lacks_is_named_at_load() {
    let rt = Runtime::with_options(RuntimeOptions {
        cpus: Some(1),
        registry: Some(Registry::empty()),
        ..RuntimeOptions::default()
    });
    let Some(obj) = load(&rt) else { return };
    match obj.program("sections") {
        Err(LoadError::UnknownKfunc { kfunc, .. }) => assert_eq!(kfunc, "bpf_rcu_read_lock"),
        other => panic!("expected an unknown kfunc, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn kfuncs_registered_by_name_replace_the_kernels() {
    fn fake_new(
        _: &mut lull_interp::HelperContext<'_>,
        _: [u64; 5],
    ) -> Result<u64, lull_interp::HelperError> {
        Ok(-95i64 as u64) // -EOPNOTSUPP
    }
    let mut registry = Registry::kernel();
    registry.add_kfunc_by_name("bpf_iter_num_new", fake_new, None);
    let rt = Runtime::with_options(RuntimeOptions {
        cpus: Some(1),
        registry: Some(registry),
        ..RuntimeOptions::default()
    });
    let Some(obj) = load(&rt) else { return };
    // Every `new` now returns -EOPNOTSUPP: the last two decimal digits hold the reversed
    // range's result (the others depend on what the untouched iterator held).
    let r = run_socket(&obj, "num_errors", ExecMode::Checked);
    assert_eq!(r % 100, 95, "r0 = {r}");
}
