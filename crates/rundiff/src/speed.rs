//! `lull bench --kernel`: every case of the differential suite timed in Lull and in the live
//! kernel, side by side in one process: the kernel's figure is its own per-run time from
//! `BPF_PROG_TEST_RUN` with `repeat` (JIT-compiled code on this machine), Lull's is
//! [`lull_runtime::LoadedProgram::test_run`]'s median per-run time with the same inputs, for
//! each engine and mode asked for. A ratio above 1 means Lull is slower.
//!
//! Both sides run the case's program `repeat` times on the same input after the same prefill,
//! so programs whose maps change from run to run (counters, full maps) do the same work on
//! both sides. Cases whose kernel type reports no duration (syscall programs) are left out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::kernel::{Kernel, nr_possible_cpus};
use crate::lull::LullConfig;
use crate::manifest::{Case, Manifest};
use crate::{Error, Result, build, lull};

/// One case's figures.
#[derive(Clone, Debug)]
pub struct SpeedRow {
    /// The case.
    pub case: String,
    /// The kernel's ns per run.
    pub kernel_ns: f64,
    /// Lull's ns per run per configuration (`None`: the run failed).
    pub lull_ns: Vec<Option<f64>>,
}

/// The comparison.
#[derive(Clone, Debug)]
pub struct SpeedReport {
    /// The configurations, in column order.
    pub configs: Vec<LullConfig>,
    /// Runs per measurement.
    pub repeat: u32,
    /// One row per timed case.
    pub rows: Vec<SpeedRow>,
    /// Cases left out, with the reason.
    pub skipped: Vec<(String, String)>,
}

impl SpeedReport {
    /// Geometric mean of Lull/kernel over the rows where configuration `i` ran.
    pub fn geomean_ratio(&self, i: usize) -> Option<f64> {
        let logs: Vec<f64> = self
            .rows
            .iter()
            .filter_map(|r| r.lull_ns[i].map(|l| (l / r.kernel_ns.max(1.0)).ln()))
            .collect();
        (!logs.is_empty()).then(|| (logs.iter().sum::<f64>() / logs.len() as f64).exp())
    }
}

/// Times every case of `manifest` (`progs`: the C sources, `work`: build directory) `repeat`
/// times per side. Needs root (the kernel side).
pub fn run(
    manifest: &Manifest,
    progs: &Path,
    work: &Path,
    repeat: u32,
    configs: &[LullConfig],
) -> Result<SpeedReport> {
    if !Kernel::privileged() {
        return Err(Error::Lull(
            "timing against the kernel needs root (bpf())".into(),
        ));
    }
    let kernel = Kernel::build(&work.join("oracle"))?;
    let nr_cpus = nr_possible_cpus();
    let mut objects: BTreeMap<&str, PathBuf> = BTreeMap::new();
    let mut report = SpeedReport {
        configs: configs.to_vec(),
        repeat,
        rows: Vec::new(),
        skipped: Vec::new(),
    };
    for case in &manifest.cases {
        if !objects.contains_key(case.object.as_str()) {
            let src = progs.join(format!("{}.bpf.c", case.object));
            objects.insert(&case.object, build::compile_bpf(&src, &work.join("progs"))?);
        }
        let obj = &objects[case.object.as_str()];
        let k = kernel.time_case(obj, case, repeat)?;
        if let Some(e) = &k.result.run_error {
            report
                .skipped
                .push((case.name.clone(), format!("kernel: {e}")));
            continue;
        }
        if k.duration_ns == 0 {
            report
                .skipped
                .push((case.name.clone(), "the kernel reports no duration".into()));
            continue;
        }
        let lull_ns = configs
            .iter()
            .map(|c| time_lull(obj, case, nr_cpus, *c, repeat))
            .collect::<Result<Vec<_>>>()?;
        report.rows.push(SpeedRow {
            case: case.name.clone(),
            kernel_ns: k.duration_ns as f64,
            lull_ns,
        });
    }
    Ok(report)
}

/// Lull's median ns per run of `case`, or `None` when it does not run.
fn time_lull(
    obj: &Path,
    case: &Case,
    nr_cpus: u32,
    config: LullConfig,
    repeat: u32,
) -> Result<Option<f64>> {
    // The object stays alive for the run: it keeps the program's maps.
    let Ok(lull::Prepared {
        obj: _obj,
        prog,
        input,
    }) = lull::prepare_case(obj, case, nr_cpus, config, repeat)?
    else {
        return Ok(None);
    };
    Ok(prog.test_run(&input).ok().map(|o| o.duration_ns as f64))
}
