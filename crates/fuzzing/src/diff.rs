//! The differential run: generate programs from consecutive seeds, judge each with Lull and
//! (when available) the kernel, compare verdicts and messages, check every program Lull
//! accepts with the [`crate::soundness`] oracle, and total it all up.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::corpus::{self, Case, Recorded, Relation, Xfail, XfailKind};
use crate::grammar::{GenConfig, Generated, generate};
use crate::kernel::{self, KernelVerdict};
use crate::program::TestProgram;
use crate::rng::Rng;
use crate::soundness::{self, Soundness};

/// What to run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// First seed.
    pub first_seed: u64,
    /// Number of programs.
    pub count: u64,
    /// Generator settings.
    pub grammar: GenConfig,
    /// Ask the kernel (root only).
    pub use_kernel: bool,
    /// Random inputs per accepted program for the soundness oracle (0: no soundness check).
    pub soundness_runs: usize,
    /// Where to write minimised regression files for new disagreements and soundness bugs
    /// (at most `save_per_category` per category).
    pub save_dir: Option<PathBuf>,
    /// Cap per category of saved files.
    pub save_per_category: usize,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            first_seed: 0,
            count: 300,
            grammar: GenConfig::default(),
            use_kernel: true,
            soundness_runs: 4,
            save_dir: None,
            save_per_category: 2,
        }
    }
}

/// A disagreement or soundness bug found.
#[derive(Clone, Debug)]
pub struct Finding {
    /// Seed of the program.
    pub seed: u64,
    /// How it was made.
    pub origin: String,
    /// Category, e.g. `lull-accepts-kernel-rejects: invalid access to map value…`.
    pub category: String,
    /// The program.
    pub program: TestProgram,
    /// Details (messages, fault).
    pub detail: String,
}

/// Totals of a run.
#[derive(Clone, Debug, Default)]
pub struct Totals {
    /// Programs generated.
    pub generated: u64,
    /// Programs the kernel judged.
    pub judged: u64,
    /// Same verdict.
    pub verdict_ok: u64,
    /// Kernel accepted.
    pub kernel_accepts: u64,
    /// Both rejected.
    pub both_reject: u64,
    /// Both rejected and Lull's log has the kernel's line.
    pub message_ok: u64,
    /// Lull accepted, the kernel rejected (the dangerous kind).
    pub lull_accepts_kernel_rejects: u64,
    /// Lull rejected, the kernel accepted.
    pub lull_rejects_kernel_accepts: u64,
    /// Programs Lull accepted and the soundness oracle ran.
    pub soundness_checked: u64,
    /// Programs the soundness oracle could not run.
    pub soundness_skipped: u64,
    /// Soundness bugs.
    pub unsound: u64,
    /// Programs Lull accepted.
    pub lull_accepts: u64,
    /// Count per disagreement category (and an example seed).
    pub categories: BTreeMap<String, (u64, u64)>,
    /// Count per kernel rejection reason (normalised error line), to see what the generator
    /// provokes.
    pub kernel_reasons: BTreeMap<String, u64>,
    /// Wall-clock time spent in the kernel (map creation and load), in Lull's verifier, and
    /// in the soundness oracle.
    pub time_kernel: std::time::Duration,
    /// See `time_kernel`.
    pub time_lull: std::time::Duration,
    /// See `time_kernel`.
    pub time_soundness: std::time::Duration,
}

fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        100.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.judged > 0 {
            writeln!(
                f,
                "generated: verdict agreement {}/{} ({:.1}%), message agreement {}/{} ({:.1}%)",
                self.verdict_ok,
                self.judged,
                pct(self.verdict_ok, self.judged),
                self.message_ok,
                self.both_reject,
                pct(self.message_ok, self.both_reject)
            )?;
            writeln!(
                f,
                "  kernel accepted {}/{}; lull-accepts-kernel-rejects {}, lull-rejects-kernel-accepts {}",
                self.kernel_accepts,
                self.judged,
                self.lull_accepts_kernel_rejects,
                self.lull_rejects_kernel_accepts
            )?;
        } else {
            writeln!(
                f,
                "generated: {} programs, kernel not consulted",
                self.generated
            )?;
        }
        writeln!(
            f,
            "soundness: {} accepted programs run in checked mode ({} skipped), {} unsound",
            self.soundness_checked, self.soundness_skipped, self.unsound
        )?;
        writeln!(
            f,
            "time: kernel {:.1?}, lull verifier {:.1?}, soundness oracle {:.1?}",
            self.time_kernel, self.time_lull, self.time_soundness
        )?;
        let mut reasons: Vec<_> = self.kernel_reasons.iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(a.1));
        writeln!(f, "kernel rejection reasons (top 12 of {}):", reasons.len())?;
        for (r, n) in reasons.iter().take(12) {
            writeln!(f, "  {n:5}  {r}")?;
        }
        writeln!(f, "disagreements and soundness bugs by category:")?;
        let mut cats: Vec<_> = self.categories.iter().collect();
        cats.sort_by_key(|c| std::cmp::Reverse(c.1.0));
        for (c, (n, seed)) in cats.iter().take(40) {
            writeln!(f, "  {n:5}  {c}  (e.g. seed {seed})")?;
        }
        Ok(())
    }
}

/// Replaces numbers by `N` so that messages differing only in offsets group together.
pub fn normalise(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut in_num = false;
    for c in msg.chars() {
        if c.is_ascii_digit() || (in_num && (c.is_ascii_hexdigit() || c == 'x')) {
            if !in_num {
                out.push('N');
            }
            in_num = true;
        } else {
            in_num = false;
            out.push(c);
        }
    }
    out
}

/// The verdicts of both verifiers on one program.
pub struct Judged {
    /// The kernel's.
    pub kernel: KernelVerdict,
    /// Lull's.
    pub lull: lull_verifier::VerifyOutcome,
}

impl Judged {
    /// How they relate.
    pub fn relation(&self) -> Relation {
        corpus::relate(
            self.kernel.accepted,
            &self.kernel.error_line,
            self.lull.accepted,
            &self.lull.log,
        )
    }

    fn lull_message(&self) -> String {
        self.lull
            .error
            .as_ref()
            .map_or_else(String::new, |e| e.message.replace('\n', " / "))
    }

    /// The disagreement category, `None` when they agree.
    pub fn category(&self) -> Option<String> {
        match self.relation() {
            Relation::Agrees => None,
            Relation::VerdictDiffers if self.lull.accepted => Some(format!(
                "lull-accepts-kernel-rejects: {}",
                normalise(&self.kernel.error_line)
            )),
            Relation::VerdictDiffers => Some(format!(
                "lull-rejects-kernel-accepts: {}",
                normalise(&self.lull_message())
            )),
            Relation::MessageDiffers => Some(format!(
                "message: kernel `{}` lull `{}`",
                normalise(&self.kernel.error_line),
                normalise(&self.lull_message())
            )),
        }
    }
}

/// Judges `p` with both verifiers.
pub fn judge(p: &TestProgram) -> Result<Judged, kernel::KernelError> {
    Ok(Judged {
        kernel: kernel::load(p)?,
        lull: crate::lull::run(p),
    })
}

/// Runs the differential and soundness checks; `log` receives progress lines.
pub fn run(cfg: &RunConfig, mut log: impl FnMut(&str)) -> (Totals, Vec<Finding>) {
    let mut t = Totals::default();
    let mut findings = Vec::new();
    let mut saved: BTreeMap<String, usize> = BTreeMap::new();
    for seed in cfg.first_seed..cfg.first_seed + cfg.count {
        let Generated {
            program, origin, ..
        } = generate(seed, &cfg.grammar);
        t.generated += 1;
        let t0 = std::time::Instant::now();
        let lull = crate::lull::run(&program);
        t.time_lull += t0.elapsed();
        if cfg.use_kernel {
            let t0 = std::time::Instant::now();
            let k = kernel::load(&program);
            t.time_kernel += t0.elapsed();
            match k {
                Ok(k) => {
                    let j = Judged {
                        kernel: k,
                        lull: lull.clone(),
                    };
                    tally(&mut t, &j);
                    if let Some(cat) = j.category() {
                        let e = t.categories.entry(cat.clone()).or_insert((0, seed));
                        e.0 += 1;
                        let detail = format!(
                            "kernel: {} {} `{}`\nlull: {} `{}`",
                            if j.kernel.accepted {
                                "accept"
                            } else {
                                "reject"
                            },
                            kernel::errno_name(j.kernel.errno),
                            j.kernel.error_line,
                            if j.lull.accepted { "accept" } else { "reject" },
                            j.lull_message()
                        );
                        save(cfg, &mut saved, &cat, seed, &origin, &program, &j, &mut log);
                        findings.push(Finding {
                            seed,
                            origin: origin.clone(),
                            category: cat,
                            program: program.clone(),
                            detail,
                        });
                    }
                }
                Err(e) => log(&format!("seed {seed}: kernel could not judge: {e}")),
            }
        }
        if lull.accepted && cfg.soundness_runs > 0 {
            t.lull_accepts += 1;
            let mut rng = Rng::new(seed ^ 0x50_u64.rotate_left(40));
            let t0 = std::time::Instant::now();
            let s = soundness::check(&program, &mut rng, cfg.soundness_runs);
            t.time_soundness += t0.elapsed();
            match s {
                Soundness::Clean { .. } => t.soundness_checked += 1,
                Soundness::Skipped(_) => t.soundness_skipped += 1,
                Soundness::Unsound { fault, input } => {
                    t.soundness_checked += 1;
                    t.unsound += 1;
                    let cat = format!(
                        "unsound: {}",
                        normalise(fault.split_once(": ").map_or(&fault, |x| x.1))
                    );
                    log(&format!(
                        "seed {seed}: UNSOUND {fault} ({input})\n{}",
                        program.asm_text()
                    ));
                    t.categories.entry(cat.clone()).or_insert((0, seed)).0 += 1;
                    findings.push(Finding {
                        seed,
                        origin: origin.clone(),
                        category: cat,
                        program: program.clone(),
                        detail: format!("{fault} ({input})"),
                    });
                }
            }
        }
    }
    (t, findings)
}

fn tally(t: &mut Totals, j: &Judged) {
    t.judged += 1;
    if j.kernel.accepted {
        t.kernel_accepts += 1;
    } else {
        let reason = if j.kernel.error_line.is_empty() {
            format!("(no log: {})", kernel::errno_name(j.kernel.errno))
        } else {
            normalise(&j.kernel.error_line)
        };
        *t.kernel_reasons.entry(reason).or_insert(0) += 1;
    }
    match (j.kernel.accepted, j.lull.accepted) {
        (a, b) if a == b => {
            t.verdict_ok += 1;
            if !a {
                t.both_reject += 1;
                if j.relation() == Relation::Agrees {
                    t.message_ok += 1;
                }
            }
        }
        (false, true) => t.lull_accepts_kernel_rejects += 1,
        _ => t.lull_rejects_kernel_accepts += 1,
    }
}

/// Minimises a disagreement and writes it as a regression file (marked xfail: it disagrees
/// now), at most `save_per_category` per category.
#[allow(clippy::too_many_arguments)]
fn save(
    cfg: &RunConfig,
    saved: &mut BTreeMap<String, usize>,
    cat: &str,
    seed: u64,
    origin: &str,
    program: &TestProgram,
    j: &Judged,
    log: &mut impl FnMut(&str),
) {
    let Some(dir) = &cfg.save_dir else { return };
    let n = saved.entry(cat.to_string()).or_insert(0);
    if *n >= cfg.save_per_category {
        return;
    }
    *n += 1;
    let small = crate::minimize::minimize(program, 2000, std::time::Duration::from_secs(20), |q| {
        judge(q).ok().and_then(|jq| jq.category()).as_deref() == Some(cat)
    });
    let Ok(js) = judge(&small) else { return };
    let kind = match js.relation() {
        Relation::MessageDiffers => XfailKind::Message,
        _ => XfailKind::Verdict,
    };
    let short = match (js.kernel.accepted, js.lull.accepted, kind) {
        (false, true, _) => "lull-accepts-kernel-rejects",
        (true, false, _) => "lull-rejects-kernel-accepts",
        _ => "message",
    };
    let case = Case {
        program: small,
        kernel: Recorded {
            accepted: js.kernel.accepted,
            errno: if js.kernel.accepted {
                String::new()
            } else {
                kernel::errno_name(js.kernel.errno)
            },
            error_line: js.kernel.error_line.clone(),
        },
        xfail: Some(Xfail {
            kind,
            category: format!("{short} (lull: {})", js.lull_message()),
        }),
        origin: Some(format!("seed {seed} {origin} (minimised)")),
    };
    let _ = j;
    let path = dir.join(format!("gen-{short}-{seed}.txt"));
    match std::fs::write(&path, case.render()) {
        Ok(()) => log(&format!("saved {}", path.display())),
        Err(e) => log(&format!("cannot write {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_groups_numbers() {
        assert_eq!(
            normalise("invalid access to map value, value_size=8 off=9 size=1"),
            "invalid access to map value, value_size=N off=N size=N"
        );
        assert_eq!(normalise("R1 offset 0x10"), "RN offset N");
    }
}
