//! Safety under reclamation, end to end (issue 7): sleepable programs (`progs/stress_sleepable.c`,
//! compiled with clang-19 at test time by `support`; the test passes vacuously when clang is
//! missing) look up a map value, keep the pointer, block in `bpf_copy_from_user` on a host-fed
//! [`BlockingSource`], then read the value again through the held pointer and report both reads
//! in their context. While they are blocked, the host deletes and re-inserts those hash elements
//! and replaces the inner maps of a hash-of-maps and an array-of-maps.
//!
//! Checked, with `lull_maps::poison` quarantining freed map memory (so a read after free returns
//! the poison pattern rather than some other allocation's data):
//! - every read returns a value the host wrote (`check == tag ^ MAGIC`, never poison), and the
//!   read after blocking equals the read before (the old element or inner map stays intact);
//! - nothing is reclaimed while the sleepable programs are blocked, yet a non-sleepable program
//!   still runs to completion then;
//! - after every round, once the domain's deferred work has run, every deferred free has
//!   happened (`pending == 0`, `deferred == reclaimed`) and the live map-memory blocks and maps
//!   are back at their baseline: memory does not grow over the rounds.
//!
//! The four programs load in the 6.18 kernel as they are (checked with `kload`): holding a
//! map-value pointer across `bpf_copy_from_user` is what the kernel allows sleepable programs.
//!
//! Every wait is bounded (the source times out, results are awaited with a deadline), so a
//! failure fails the test instead of hanging it.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lull_maps::{Map, POISON_WORD, poison};
use lull_rcu::Domain;
use lull_runtime::{ExecMode, LoadedObject, Runtime, RuntimeOptions, TestRun};
use lull_task::{BlockingSource, Task, UserMemory};

mod support;

const MAGIC: u64 = 0x5a5a_1234_8765_a5a5;
/// Sleepable runner threads (each has its own key).
const RUNNERS: u32 = 3;
/// Rounds per engine mode.
const ROUNDS: u64 = 300;
/// Where the blocking source lives in the fake user address space.
const USER_BASE: u64 = 0x7f00_0000_0000;
/// Bound on every wait of the test.
const DEADLINE: Duration = Duration::from_secs(10);

/// Layout of `struct args` in the program.
mod args {
    pub const KEY: usize = 0;
    pub const FOUND: usize = 4;
    pub const UADDR: usize = 8;
    pub const BEFORE_TAG: usize = 16;
    pub const BEFORE_CHECK: usize = 24;
    pub const AFTER_TAG: usize = 32;
    pub const AFTER_CHECK: usize = 40;
    pub const AGAIN_TAG: usize = 48;
    pub const AGAIN_CHECK: usize = 56;
    pub const COPY_RET: usize = 64;
    pub const USER: usize = 72;
    pub const SIZE: usize = 80;
}

/// One test at a time in this binary: the poison counters are process-wide.
static SERIAL: Mutex<()> = Mutex::new(());

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_ne_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

fn val(tag: u64) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&tag.to_ne_bytes());
    v[8..].copy_from_slice(&(tag ^ MAGIC).to_ne_bytes());
    v
}

/// Which map the programs of a round hold a pointer into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Elem,
    HashOfMaps,
    ArrayOfMaps,
}

impl Target {
    fn of_round(round: u64) -> Target {
        match round % 3 {
            0 => Target::Elem,
            1 => Target::HashOfMaps,
            _ => Target::ArrayOfMaps,
        }
    }

    fn program(self) -> &'static str {
        match self {
            Target::Elem => "hold_elem",
            Target::HashOfMaps => "hold_hash_of_maps",
            Target::ArrayOfMaps => "hold_array_of_maps",
        }
    }
}

/// The host side: the loaded object and the tag each key's current value carries.
struct Host {
    obj: LoadedObject,
    next_tag: u64,
}

impl Host {
    fn tag(&mut self) -> u64 {
        self.next_tag += 1;
        self.next_tag
    }

    fn map(&self, name: &str) -> &Arc<Map> {
        self.obj.map(name).unwrap_or_else(|| panic!("map {name}"))
    }

    /// A new inner array holding one value with a fresh tag.
    fn new_inner(&mut self) -> (Arc<Map>, u64) {
        let spec = self
            .map("outer_hash")
            .spec()
            .inner
            .as_deref()
            .expect("inner spec")
            .clone();
        let inner = Map::create(spec, self.obj.runtime().map_context()).expect("inner map");
        let tag = self.tag();
        inner
            .update(&0u32.to_ne_bytes(), &val(tag), 0)
            .expect("fill");
        (inner, tag)
    }

    /// Gives every runner's key a value in all three maps.
    fn populate(&mut self) {
        for k in 0..RUNNERS {
            let key = k.to_ne_bytes();
            let tag = self.tag();
            self.map("elems").update(&key, &val(tag), 0).expect("elems");
            let (inner, _) = self.new_inner();
            self.map("outer_hash")
                .update_inner_map(&key, inner, 0)
                .expect("outer_hash");
            let (inner, _) = self.new_inner();
            self.map("outer_arr")
                .update_inner_map(&key, inner, 0)
                .expect("outer_arr");
        }
    }

    /// What the host does while the programs of `round` are blocked: takes away what they
    /// hold. Odd rounds leave the hash-of-maps key and the element absent until `restore`.
    fn take_away(&mut self, target: Target, round: u64) {
        for k in 0..RUNNERS {
            let key = k.to_ne_bytes();
            match target {
                Target::Elem => {
                    self.map("elems").delete(&key).expect("delete elem");
                    if round.is_multiple_of(2) {
                        let tag = self.tag();
                        self.map("elems")
                            .update(&key, &val(tag), 0)
                            .expect("re-insert");
                    }
                }
                Target::HashOfMaps => {
                    if round.is_multiple_of(2) {
                        let (inner, _) = self.new_inner();
                        self.map("outer_hash")
                            .update_inner_map(&key, inner, 0)
                            .expect("replace inner");
                    } else {
                        self.map("outer_hash").delete(&key).expect("delete inner");
                    }
                }
                Target::ArrayOfMaps => {
                    let (inner, _) = self.new_inner();
                    self.map("outer_arr")
                        .update_inner_map(&key, inner, 0)
                        .expect("replace inner");
                }
            }
        }
    }

    /// Puts back what `take_away` left absent.
    fn restore(&mut self) {
        for k in 0..RUNNERS {
            let key = k.to_ne_bytes();
            if self.map("elems").lookup_copy(&key, 0).is_err() {
                let tag = self.tag();
                self.map("elems").update(&key, &val(tag), 0).expect("elems");
            }
            if self.map("outer_hash").inner_map(&key).is_none() {
                let (inner, _) = self.new_inner();
                self.map("outer_hash")
                    .update_inner_map(&key, inner, 0)
                    .expect("outer_hash");
            }
        }
    }
}

/// Checks one run's report.
fn check_report(target: Target, round: u64, runner: u32, retval: u64, ctx: &[u8]) {
    let what = format!("round {round}, runner {runner}, {target:?}");
    assert_eq!(retval, 1, "{what}: the program found no value");
    assert_eq!(u64_at(ctx, args::FOUND) & 0xffff_ffff, 1, "{what}");
    assert_eq!(
        u64_at(ctx, args::COPY_RET),
        0,
        "{what}: copy_from_user failed"
    );
    assert_eq!(
        u64_at(ctx, args::USER),
        round << 8 | u64::from(runner),
        "{what}: wrong user bytes"
    );
    let pairs = [
        (args::BEFORE_TAG, args::BEFORE_CHECK),
        (args::AFTER_TAG, args::AFTER_CHECK),
    ];
    for (t, c) in pairs {
        let (tag, check) = (u64_at(ctx, t), u64_at(ctx, c));
        assert_ne!(tag, POISON_WORD, "{what}: read freed memory (poison)");
        assert_ne!(check, POISON_WORD, "{what}: read freed memory (poison)");
        assert_eq!(
            check,
            tag ^ MAGIC,
            "{what}: value never written: {tag:#x}/{check:#x}"
        );
    }
    assert_eq!(
        u64_at(ctx, args::BEFORE_TAG),
        u64_at(ctx, args::AFTER_TAG),
        "{what}: the held value changed while the program slept"
    );
    if target != Target::Elem {
        assert_eq!(
            (u64_at(ctx, args::AGAIN_TAG), u64_at(ctx, args::AGAIN_CHECK)),
            (
                u64_at(ctx, args::BEFORE_TAG),
                u64_at(ctx, args::BEFORE_CHECK)
            ),
            "{what}: a lookup through the held inner map saw another value"
        );
    }
}

/// The user address runner `runner` reads in `round`: a fresh 8-byte slot each time, so every
/// read blocks until the host supplies it.
fn user_slot(round: u64, runner: u32) -> u64 {
    USER_BASE + (round * u64::from(RUNNERS) + u64::from(runner)) * 8
}

/// Waits until `cond` holds, or panics with `what` after the deadline.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Closes the source when dropped, so that a failing test releases blocked runners.
struct CloseOnDrop(Arc<BlockingSource>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

fn run_rounds(mode: ExecMode) {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    poison::enable(64 << 20);
    let (start_blocks, start_maps) = (poison::stats().live_blocks, Map::live_count());
    let source = Arc::new(
        BlockingSource::new(USER_BASE, ROUNDS * u64::from(RUNNERS) * 8).with_timeout(DEADLINE),
    );
    let memory: Arc<dyn UserMemory> = source.clone();
    let task = Arc::new(Task::synthetic(4242, 4242, 0, 0, b"stress").with_memory(memory));
    let domain = Domain::new();
    let rt = Runtime::with_options(RuntimeOptions {
        cpus: Some(RUNNERS + 1),
        mode,
        task: Some(task),
        domain: Some(domain.clone()),
        ..RuntimeOptions::default()
    });
    let Some(obj) = support::load(&rt, "stress_sleepable") else {
        return;
    };
    let mut host = Host { obj, next_tag: 0 };
    host.populate();
    let progs: Vec<_> = [Target::Elem, Target::HashOfMaps, Target::ArrayOfMaps]
        .iter()
        .map(|t| host.obj.program(t.program()).expect("verify"))
        .collect();
    for p in &progs {
        assert!(p.sleepable(), "{} must run in sleepable sections", p.name());
    }
    let peek = host.obj.program("peek").expect("verify peek");
    domain.barrier().expect("barrier");
    let base_blocks = poison::stats().live_blocks;
    let base_maps = Map::live_count();
    let mut frame = vec![0u8; 64];
    frame[12] = 0x08;

    std::thread::scope(|s| {
        // Dropped (closing the source) before the scope joins the runners, also on a panic.
        let _release_runners = CloseOnDrop(Arc::clone(&source));
        let (report_tx, report_rx) = mpsc::channel();
        let mut work = Vec::new();
        for runner in 0..RUNNERS {
            let (tx, rx) = mpsc::channel::<(u64, Arc<lull_runtime::LoadedProgram>)>();
            work.push(tx);
            let report_tx = report_tx.clone();
            s.spawn(move || {
                while let Ok((round, prog)) = rx.recv() {
                    let mut ctx = vec![0u8; args::SIZE];
                    ctx[args::KEY..args::KEY + 4].copy_from_slice(&runner.to_ne_bytes());
                    let uaddr = user_slot(round, runner);
                    ctx[args::UADDR..args::UADDR + 8].copy_from_slice(&uaddr.to_ne_bytes());
                    let out = prog.test_run(&TestRun {
                        ctx: Some(ctx),
                        ..TestRun::default()
                    });
                    let out = out
                        .map(|o| (o.retval, o.ctx_out))
                        .map_err(|e| e.to_string());
                    if report_tx.send((round, runner, out)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(report_tx);

        for round in 0..ROUNDS {
            let target = Target::of_round(round);
            let prog = &progs[round as usize % 3];
            let reclaimed_before = domain.stats().reclaimed;
            for tx in &work {
                tx.send((round, Arc::clone(prog))).expect("runner alive");
            }
            wait_for("the sleepable programs to block", || {
                source.waiting() == RUNNERS as usize
            });
            host.take_away(target, round);
            // The frees are queued and must stay queued while the programs sleep, although the
            // reclaimer is running; atomic programs are not held up meanwhile. (Checked after
            // the reports, so that a premature free shows up as what a program read.)
            let deferred = domain.pending();
            let atomic = peek.test_run(&TestRun {
                data: frame.clone(),
                ..TestRun::default()
            });
            std::thread::sleep(Duration::from_millis(1));
            let reclaimed_meanwhile = domain.stats().reclaimed - reclaimed_before;
            for runner in 0..RUNNERS {
                let uaddr = user_slot(round, runner);
                let word = round << 8 | u64::from(runner);
                source.supply(uaddr, &word.to_ne_bytes()).expect("supply");
            }
            for _ in 0..RUNNERS {
                let (r, runner, out) = report_rx
                    .recv_timeout(DEADLINE)
                    .expect("a runner reported in time");
                assert_eq!(r, round);
                let (retval, ctx) = out.unwrap_or_else(|e| panic!("round {round}: {e}"));
                check_report(target, round, runner, retval, &ctx);
            }
            let atomic = atomic.expect("atomic program runs while sleepable ones block");
            assert!(matches!(atomic.retval, 1 | 2));
            assert!(deferred > 0, "round {round}: nothing was deferred");
            assert_eq!(
                reclaimed_meanwhile, 0,
                "round {round}: memory reclaimed while sleepable programs held it"
            );
            host.restore();
            domain.barrier().expect("barrier");
            let stats = domain.stats();
            assert_eq!(domain.pending(), 0);
            assert_eq!(stats.deferred, stats.reclaimed, "round {round}: {stats:?}");
            assert_eq!(stats.panicked, 0);
            assert_eq!(
                poison::stats().live_blocks,
                base_blocks,
                "round {round}: map memory grows"
            );
            assert_eq!(Map::live_count(), base_maps, "round {round}: maps leak");
        }
        drop(work);
    });
    // Tear down: the outer maps defer their inner maps' release to the domain; once that has
    // run, every block and map this test created is gone.
    drop((peek, progs, host, rt));
    domain.barrier().expect("final barrier");
    assert_eq!(domain.pending(), 0);
    drop(domain);
    assert_eq!(
        poison::stats().live_blocks,
        start_blocks,
        "map memory leaked"
    );
    assert_eq!(Map::live_count(), start_maps, "maps leaked");
    let stats = poison::stats();
    assert_eq!(
        poison::check_quarantine(),
        0,
        "freed map memory was written"
    );
    assert_eq!(
        stats.corrupted, 0,
        "freed map memory was written: {stats:?}"
    );
    assert!(stats.quarantined_blocks > 0, "the quarantine saw no frees");
}

#[test]
fn sleepable_readers_survive_deletes_and_map_replacement_checked() {
    run_rounds(ExecMode::Checked);
}

#[test]
fn sleepable_readers_survive_deletes_and_map_replacement_trusted() {
    run_rounds(ExecMode::Trusted);
}
