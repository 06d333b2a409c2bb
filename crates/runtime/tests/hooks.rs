//! Host-defined hooks with loaded programs (`tests/progs/hooks.c`, compiled with clang-19):
//! attach checks, verdict combination, detach semantics, concurrent runs while links change,
//! and the central property of sleepable programs — one that blocks (in `bpf_copy_from_user`
//! on a host source whose data has not arrived) holds up no atomic program on another thread,
//! no attach or detach of another program, and not the host.
//!
//! Every wait is bounded (channels with timeouts; the blocking source itself gives up after a
//! minute), so a regression fails the test instead of hanging it.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lull_abi::ProgType;
use lull_runtime::{Combine, HookError, HookInput, HookSpec, Runtime, RuntimeOptions};
use lull_task::{BlockingSource, Task, UserMemory};
use support::{array_u64, load, program, pt_regs};

/// Slots of `counts` in hooks.c.
const SLOT_ATOMIC: u32 = 0;
const SLOT_SLEEPABLE: u32 = 1;
const SLOT_RET_SEVEN: u32 = 2;
const SLOT_RET_ZERO: u32 = 3;
const SLOT_RET_NINE: u32 = 4;
const SLOT_WAITED: u32 = 5;
const SLOT_WAITED_VALUE: u32 = 6;
const SLOT_WAITED_RET: u32 = 7;

/// Longest a step that should complete may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);
/// The user address the host source serves.
const BASE: u64 = 0x7000_0000;

fn runtime(cpus: u32) -> Runtime {
    Runtime::with_options(RuntimeOptions {
        cpus: Some(cpus),
        ..RuntimeOptions::default()
    })
}

/// A runtime whose programs run for a synthetic task whose user memory is a host source at
/// `BASE` with nothing supplied yet.
fn runtime_with_source(cpus: u32) -> (Runtime, Arc<BlockingSource>) {
    let source = Arc::new(BlockingSource::new(BASE, 4096).with_timeout(Duration::from_secs(60)));
    let memory: Arc<dyn UserMemory> = source.clone();
    let task = Task::synthetic(4242, 4242, 1000, 1000, b"hook-test").with_memory(memory);
    let rt = Runtime::with_options(RuntimeOptions {
        cpus: Some(cpus),
        task: Some(Arc::new(task)),
        ..RuntimeOptions::default()
    });
    (rt, source)
}

/// Runs `f` on a new thread; its result arrives on the returned channel.
fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> mpsc::Receiver<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx
}

/// Polls `cond` (an observable state with no event to wait on) until it holds or `WAIT` passes.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn args() -> HookInput<'static> {
    HookInput::Args([0; 5])
}

#[test]
fn attach_checks_that_the_program_fits_the_hook() {
    let rt = runtime(2);
    let Some(obj) = load(&rt, "hooks") else {
        return;
    };
    let atomic_hook = rt.hook(HookSpec::new("socket_sendmsg", ProgType::Kprobe));
    let sleepable_hook = rt.hook(HookSpec::new("file_open", ProgType::Kprobe).sleepable());

    let err = atomic_hook
        .attach(&program(&obj, "count_sleepable"))
        .unwrap_err();
    assert!(matches!(err, HookError::NotSleepable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("hook 'socket_sendmsg' is not sleepable")
            && err.to_string().contains("'count_sleepable'"),
        "{err}"
    );

    // A non-sleepable program on a hook where sleeping is allowed is fine, and so is a
    // sleepable one.
    let _a = sleepable_hook
        .attach(&program(&obj, "count_atomic"))
        .unwrap();
    let _s = sleepable_hook
        .attach(&program(&obj, "count_sleepable"))
        .unwrap();
    assert_eq!(
        sleepable_hook.programs(),
        ["count_atomic", "count_sleepable"]
    );

    let err = sleepable_hook
        .attach(&program(&obj, "count_atomic"))
        .unwrap_err();
    assert!(matches!(err, HookError::AlreadyAttached { .. }), "{err}");

    let err = atomic_hook
        .attach(&program(&obj, "not_a_probe"))
        .unwrap_err();
    assert!(matches!(err, HookError::ProgType { .. }), "{err}");
    assert!(err.to_string().contains("runs kprobe programs"), "{err}");

    let other = runtime(1);
    let Some(other_obj) = load(&other, "hooks") else {
        return;
    };
    let err = atomic_hook
        .attach(&program(&other_obj, "count_atomic"))
        .unwrap_err();
    assert!(matches!(err, HookError::OtherRuntime { .. }), "{err}");
    assert!(atomic_hook.programs().is_empty());
}

#[test]
fn verdicts_combine_as_the_hook_declares() {
    let rt = runtime(2);
    let Some(obj) = load(&rt, "hooks") else {
        return;
    };
    let order = ["ret_zero", "ret_seven", "ret_nine"];
    let run = |spec: HookSpec| {
        let hook = rt.hook(spec);
        let links: Vec<_> = order
            .iter()
            .map(|p| hook.attach(&program(&obj, p)).unwrap())
            .collect();
        let out = hook.run(args()).unwrap();
        drop(links);
        out
    };
    let calls =
        || [SLOT_RET_ZERO, SLOT_RET_SEVEN, SLOT_RET_NINE].map(|s| array_u64(&obj, "counts", s));

    // fmod_ret / LSM: the first non-zero verdict wins and the rest do not run.
    let out = run(HookSpec::new("h", ProgType::Kprobe).overriding(Combine::FirstNonZero));
    assert_eq!((out.ret, out.ran), (Some(7), 2));
    assert_eq!(calls(), [1, 1, 0]);

    // Deny wins, but every program sees the event.
    let out = run(HookSpec::new("h", ProgType::Kprobe).overriding(Combine::AllMustAllow));
    assert_eq!((out.ret, out.ran), (Some(7), 3));
    assert_eq!(calls(), [2, 2, 1]);

    let out = run(HookSpec::new("h", ProgType::Kprobe).overriding(Combine::Last));
    assert_eq!((out.ret, out.ran), (Some(9), 3));

    // fentry-like: programs run, the host keeps its own return value.
    let out = run(HookSpec::new("h", ProgType::Kprobe));
    assert_eq!((out.ret, out.ran), (None, 3));
    assert_eq!(calls(), [4, 4, 3]);

    // No program: nothing decides.
    let empty = rt.hook(HookSpec::new("h", ProgType::Kprobe).overriding(Combine::Last));
    assert_eq!(empty.run(args()).unwrap().ret, None);
}

#[test]
fn a_detached_program_never_runs_again() {
    let rt = runtime(2);
    let Some(obj) = load(&rt, "hooks") else {
        return;
    };
    let hook = rt.hook(HookSpec::new("h", ProgType::Kprobe).sleepable());
    let atomic = hook.attach(&program(&obj, "count_atomic")).unwrap();
    let sleepable = hook.attach(&program(&obj, "count_sleepable")).unwrap();
    assert_eq!(hook.run(args()).unwrap().ran, 2);
    atomic.detach().unwrap();
    assert_eq!(hook.run(args()).unwrap().ran, 1);
    drop(sleepable);
    assert_eq!(hook.run(args()).unwrap().ran, 0);
    assert_eq!(array_u64(&obj, "counts", SLOT_ATOMIC), 1);
    assert_eq!(array_u64(&obj, "counts", SLOT_SLEEPABLE), 2);
    // Attaching again after a detach is allowed.
    let again = hook.attach(&program(&obj, "count_atomic")).unwrap();
    assert_eq!(hook.run(args()).unwrap().ran, 1);
    again.detach().unwrap();
}

#[test]
fn a_blocked_sleepable_program_holds_up_nobody() {
    // One virtual CPU: the blocked sleepable run must not keep the atomic runs off it.
    let (rt, source) = runtime_with_source(1);
    let Some(obj) = load(&rt, "hooks") else {
        return;
    };
    let sleepy = rt.hook(HookSpec::new("request_body", ProgType::Kprobe).sleepable());
    let fast = rt.hook(HookSpec::new("packet_seen", ProgType::Kprobe));
    let waiter = sleepy.attach(&program(&obj, "wait_for_user")).unwrap();
    let later = sleepy.attach(&program(&obj, "count_sleepable")).unwrap();
    let _counter = fast.attach(&program(&obj, "count_atomic")).unwrap();

    // A request whose body has not arrived: the sleepable program blocks in
    // bpf_copy_from_user, inside a sleepable section, holding the hook's attachment list.
    let blocked = {
        let sleepy = sleepy.clone();
        spawn(move || {
            let regs = pt_regs(BASE);
            sleepy.run(HookInput::Context {
                data: &[],
                ctx: Some(&regs),
            })
        })
    };
    wait_until("the sleepable program blocks in bpf_copy_from_user", || {
        source.waiting() == 1
    });

    // 1. Atomic programs keep running on other threads.
    let runs = {
        let fast = fast.clone();
        spawn(move || (0..1000).map(|_| fast.run(args()).map(|o| o.ran)).sum())
    };
    let ran: Result<u32, HookError> = runs
        .recv_timeout(WAIT)
        .expect("atomic runs were held up by the blocked sleepable program");
    assert_eq!(ran.unwrap(), 1000);
    assert_eq!(array_u64(&obj, "counts", SLOT_ATOMIC), 1000);

    // 2. Attach and detach of other programs (atomic ones on another hook) complete.
    let seven = program(&obj, "ret_seven");
    let churn = {
        let fast = fast.clone();
        spawn(move || -> Result<u32, HookError> {
            let link = fast.attach(&seven)?;
            let ran = fast.run(args())?.ran;
            link.detach()?;
            Ok(ran)
        })
    };
    assert_eq!(
        churn
            .recv_timeout(WAIT)
            .expect("attach/detach on another hook was held up")
            .unwrap(),
        2
    );

    // 3. Even a sleepable program of the very hook whose run is blocked detaches at once (it
    //    has no run in flight), and the blocked run will not start it afterwards.
    let detach_later = spawn(move || later.detach());
    detach_later
        .recv_timeout(WAIT)
        .expect("detaching another sleepable program was held up")
        .unwrap();

    // 4. The host's own atomic grace periods complete.
    let domain = rt.map_context().domain.clone();
    let gp = spawn(move || domain.synchronize_atomic());
    gp.recv_timeout(WAIT)
        .expect("an atomic grace period was held up")
        .unwrap();

    // 5. Detaching the blocked program itself waits for its run.
    let detach_waiter = spawn(move || waiter.detach());
    assert!(
        detach_waiter
            .recv_timeout(Duration::from_millis(300))
            .is_err(),
        "detach returned while a run of the program was still blocked"
    );
    assert_eq!(
        source.waiting(),
        1,
        "the program stopped waiting on its own"
    );

    // The data arrives: the program completes, then the detach returns.
    let value = 0x1122_3344_5566_7788u64;
    source.supply(BASE, &value.to_ne_bytes()).unwrap();
    let outcome = blocked
        .recv_timeout(WAIT)
        .expect("the sleepable run did not finish after the data arrived")
        .unwrap();
    assert_eq!(
        outcome.ran, 1,
        "count_sleepable was detached before the blocked run reached it"
    );
    detach_waiter
        .recv_timeout(WAIT)
        .expect("detach did not return after the run finished")
        .unwrap();
    assert_eq!(array_u64(&obj, "counts", SLOT_WAITED), 1);
    assert_eq!(array_u64(&obj, "counts", SLOT_WAITED_RET), 0);
    assert_eq!(array_u64(&obj, "counts", SLOT_WAITED_VALUE), value);
    assert_eq!(array_u64(&obj, "counts", SLOT_SLEEPABLE), 0);
    assert!(sleepy.programs().is_empty());
    // Nothing is left waiting for a grace period forever.
    rt.map_context().domain.barrier().unwrap();
}

#[test]
fn concurrent_runs_stay_consistent_while_links_change() {
    let rt = runtime(8);
    let Some(obj) = load(&rt, "hooks") else {
        return;
    };
    let hook = rt.hook(HookSpec::new("h", ProgType::Kprobe).sleepable());
    let _base = hook.attach(&program(&obj, "ret_zero")).unwrap();
    let atomic = program(&obj, "count_atomic");
    let sleepable = program(&obj, "count_sleepable");
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let runners: Vec<_> = (0..4)
        .map(|_| {
            let (hook, stop, total) = (hook.clone(), Arc::clone(&stop), Arc::clone(&total));
            spawn(move || -> Result<(), HookError> {
                while !stop.load(Ordering::Relaxed) {
                    let out = hook.run(args())?;
                    total.fetch_add(u64::from(out.ran), Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    let mut after_detach = (0, 0);
    for round in 0..200 {
        let a = hook.attach(&atomic).unwrap();
        let s = hook.attach(&sleepable).unwrap();
        if round % 2 == 0 {
            a.detach().unwrap();
            s.detach().unwrap();
        } else {
            drop(s);
            drop(a);
        }
        after_detach = (
            array_u64(&obj, "counts", SLOT_ATOMIC),
            array_u64(&obj, "counts", SLOT_SLEEPABLE),
        );
    }
    // Let the runners go on a little with only the base program attached.
    let base_before = array_u64(&obj, "counts", SLOT_RET_ZERO);
    wait_until("the runners make progress", || {
        array_u64(&obj, "counts", SLOT_RET_ZERO) > base_before + 100
    });
    stop.store(true, Ordering::Relaxed);
    for r in runners {
        r.recv_timeout(WAIT).expect("a runner hung").unwrap();
    }
    let counts = [SLOT_ATOMIC, SLOT_SLEEPABLE, SLOT_RET_ZERO].map(|s| array_u64(&obj, "counts", s));
    // Detached programs never ran after their detach returned…
    assert_eq!((counts[0], counts[1]), after_detach);
    // …and every program run the hook reported is a run the programs counted.
    assert_eq!(total.load(Ordering::Relaxed), counts.iter().sum::<u64>());
    assert_eq!(hook.programs(), ["ret_zero"]);
    // Every list an attach or detach replaced (4 per round) was freed once no run could
    // still hold it.
    let domain = &rt.map_context().domain;
    domain.barrier().unwrap();
    assert_eq!(domain.pending(), 0);
    assert!(domain.stats().reclaimed >= 4 * 200, "{:?}", domain.stats());
}
