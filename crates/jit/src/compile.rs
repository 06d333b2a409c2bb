//! From typed instructions to a [`JitProgram`]: the interpreter's structural checks
//! ([`lull_interp::Program::prepare`], so both engines accept and reject the same programs
//! with the same errors), `lddw` and call resolution, then one Cranelift function per BPF
//! function in one [`JITModule`].

use std::collections::HashMap;

use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module, default_libcall_names};
use lull_interp::{Helper, PrepareError, PrepareOptions};
use lull_isa::{CallTarget, Insn, LdImm64Kind, Located};

use crate::cfg::Cfg;
use crate::code::{Code, Mode};
use crate::intrinsics::Intrinsics;
use crate::translate::{self, Signatures};

/// Why a program cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    /// The program is malformed (same checks and messages as the interpreter).
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    /// Cranelift does not support this host.
    #[error("no Cranelift back end for this host: {0}")]
    Host(String),
    /// Cranelift failed to compile or link the code.
    #[error("code generation failed: {0}")]
    Codegen(String),
}

fn codegen<E: std::fmt::Display>(e: E) -> CompileError {
    CompileError::Codegen(e.to_string())
}

/// A compiled program, immutable; run it with [`crate::JitVm`] as often as wanted.
#[derive(Debug)]
pub struct JitProgram {
    pub(crate) code: Code,
    len: usize,
}

impl JitProgram {
    /// Checks `insns` as [`lull_interp::Program::prepare`] does and compiles them.
    pub fn compile(
        insns: &[Located],
        options: &PrepareOptions,
        mode: Mode,
    ) -> Result<JitProgram, CompileError> {
        JitProgram::compile_with(insns, options, mode, &Intrinsics::default())
    }

    /// [`JitProgram::compile`], inlining the helpers `intrinsics` names.
    pub fn compile_with(
        insns: &[Located],
        options: &PrepareOptions,
        mode: Mode,
        intrinsics: &Intrinsics,
    ) -> Result<JitProgram, CompileError> {
        lull_interp::Program::prepare(insns, options)?;
        let cfg = Cfg::new(insns);
        let (lddw, call_index, calls) = resolve(&cfg, options)?;
        let mut module = new_module()?;
        let sigs = Signatures::new(module.make_signature());
        let (entries, callback_entries) = cfg.function_entries();
        let mut ids: HashMap<usize, FuncId> = HashMap::new();
        for &e in &entries {
            let id = module
                .declare_function(&format!("bpf_{e}"), Linkage::Local, &sigs.func)
                .map_err(codegen)?;
            ids.insert(e, id);
        }
        let prog = translate::Program {
            cfg: &cfg,
            mode,
            lddw: &lddw,
            call_index: &call_index,
            intrinsics,
        };
        let mut ctx = module.make_context();
        let mut fctx = FunctionBuilderContext::new();
        let mut code_size = 0;
        for &e in &entries {
            let f = cfg.function(e);
            ctx.func.signature = sigs.func.clone();
            let mut local = HashMap::new();
            for (&entry, &id) in &ids {
                local.insert(entry, module.declare_func_in_func(id, &mut ctx.func));
            }
            let b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
            translate::translate(b, &prog, &sigs, &f, &local, module.target_config());
            module.define_function(ids[&e], &mut ctx).map_err(codegen)?;
            code_size += ctx.compiled_code().map_or(0, |c| c.code_buffer().len());
            module.clear_context(&mut ctx);
        }
        module.finalize_definitions().map_err(codegen)?;
        let entry = module.get_finalized_function(ids[&0]);
        let callbacks = callback_entries
            .iter()
            .map(|&e| (cfg.slot(e) as u32, module.get_finalized_function(ids[&e])))
            .collect();
        Ok(JitProgram {
            code: Code::new(
                module,
                entry,
                callbacks,
                calls.into_boxed_slice(),
                options.helpers.clone(),
                mode,
                code_size,
            ),
            len: insns.len(),
        })
    }

    /// Number of instructions (an `lddw` counts once).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: an empty program cannot be compiled.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How the program was compiled.
    pub fn mode(&self) -> Mode {
        self.code.mode
    }

    /// Size of the generated machine code in bytes.
    pub fn code_size(&self) -> usize {
        self.code.code_size
    }
}

/// The `lddw` values and call-table indices per instruction, and the call table.
type Resolved = (Vec<u64>, Vec<u32>, Vec<Helper>);

fn resolve(cfg: &Cfg<'_>, options: &PrepareOptions) -> Result<Resolved, CompileError> {
    let n = cfg.insns.len();
    let mut lddw = vec![0u64; n];
    let mut call_index = vec![0u32; n];
    let mut calls = Vec::new();
    for (i, l) in cfg.insns.iter().enumerate() {
        let slot = l.slot;
        match l.insn {
            Insn::LdImm64 {
                kind,
                imm,
                next_imm,
                ..
            } => {
                lddw[i] = match kind {
                    LdImm64Kind::Imm => Insn::imm64(imm, next_imm),
                    // A callback's address is its raw slot, as in the interpreter.
                    LdImm64Kind::Func => (slot as i64 + 1 + i64::from(imm)) as u64,
                    _ => {
                        let resolver = options
                            .resolver
                            .as_ref()
                            .ok_or(PrepareError::Unresolved { slot, kind })?;
                        resolver(kind, imm, next_imm).map_err(|message| PrepareError::Resolve {
                            slot,
                            kind,
                            message,
                        })?
                    }
                };
            }
            Insn::Call(CallTarget::Helper(id)) => {
                let h = u64::try_from(id)
                    .ok()
                    .and_then(|id| options.helpers.get(id))
                    .ok_or(PrepareError::UnknownHelper { slot, id })?;
                call_index[i] = calls.len() as u32;
                calls.push(*h);
            }
            Insn::LdAbs { .. } | Insn::LdInd { .. } => {
                // Legacy packet loads call the host's loader (`u32::MAX`: none, they fault).
                call_index[i] = match options.packet_loader {
                    Some(h) => {
                        calls.push(h);
                        (calls.len() - 1) as u32
                    }
                    None => u32::MAX,
                };
            }
            Insn::Call(CallTarget::Kfunc { btf_id, module }) => {
                let h = options
                    .kfuncs
                    .get(btf_id, module)
                    .ok_or(PrepareError::UnknownKfunc {
                        slot,
                        btf_id,
                        module,
                    })?;
                call_index[i] = calls.len() as u32;
                calls.push(*h);
            }
            _ => {}
        }
    }
    Ok((lddw, call_index, calls))
}

/// A JIT module for the host, optimising for speed.
fn new_module() -> Result<JITModule, CompileError> {
    let mut flags = settings::builder();
    let set = |f: &mut settings::Builder, k: &str, v: &str| f.set(k, v).map_err(codegen);
    set(&mut flags, "opt_level", "speed")?;
    set(&mut flags, "is_pic", "false")?;
    set(&mut flags, "use_colocated_libcalls", "false")?;
    // Functions start on a cache line, so the position of loop heads does not depend on where
    // the module happened to place the code.
    set(&mut flags, "log2_min_function_alignment", "6")?;
    let isa = cranelift_native::builder()
        .map_err(|e| CompileError::Host(e.to_string()))?
        .finish(settings::Flags::new(flags))
        .map_err(codegen)?;
    Ok(JITModule::new(JITBuilder::with_isa(
        isa,
        default_libcall_names(),
    )))
}
