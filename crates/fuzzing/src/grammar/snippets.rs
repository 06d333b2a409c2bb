//! The fragments generated programs are made of (see the module doc of [`crate::grammar`] for the
//! register discipline). Each fragment is self-contained: its branches only skip forward to
//! its own end, so the stack bytes it initialises unconditionally stay initialised.

use lull_abi::{MapType, ProgType};
use lull_isa::{AluOp, AtomicOp, Endian, Insn, JmpCond, Operand, Reg, Size, Width};

use super::GenConfig;
use super::builder::{Builder, Label};
use crate::program::MapSpec;
use crate::rng::Rng;

const R0: Reg = Reg::R0;
const R1: Reg = Reg::R1;
const R2: Reg = Reg::R2;
const R3: Reg = Reg::R3;
const R4: Reg = Reg::R4;
const R5: Reg = Reg::R5;
const R6: Reg = Reg::R6;
const R7: Reg = Reg::R7;
const R8: Reg = Reg::R8;
const R9: Reg = Reg::R9;
const FP: Reg = Reg::R10;

/// Helper ids used by generated code.
mod helper {
    pub const MAP_LOOKUP: i32 = 1;
    pub const MAP_UPDATE: i32 = 2;
    pub const MAP_DELETE: i32 = 3;
    pub const KTIME_GET_NS: i32 = 5;
    pub const GET_PRANDOM_U32: i32 = 7;
    pub const GET_SMP_PROCESSOR_ID: i32 = 8;
    pub const GET_CURRENT_PID_TGID: i32 = 14;
    pub const SKB_LOAD_BYTES: i32 = 26;
    pub const PROBE_READ_KERNEL: i32 = 113;
}

/// A bpf-to-bpf callee to emit after the main program.
#[derive(Clone, Copy)]
enum Sub {
    /// `r0 = r1 op r2`.
    Scalars { op: AluOp, wrong_reads_r6: bool },
    /// Reads `*(u64 *)(r1 + off)` from a pointer to the caller's stack.
    ReadsArg { off: i16 },
    /// Uses its own stack.
    OwnStack { off: i16, forget_r0: bool },
}

struct Gen<'r> {
    rng: &'r mut Rng,
    b: Builder,
    prog_type: ProgType,
    maps: &'r [MapSpec],
    /// Initialised stack bytes: index `512 + off` for `off` in `-512..0`.
    init: [bool; 512],
    subs: Vec<(Label, Sub)>,
    wrong: u32,
    names: Vec<&'static str>,
}

/// Generates a main program (plus callees) of up to `cfg.max_fragments` fragments.
pub(super) fn program(
    rng: &mut Rng,
    prog_type: ProgType,
    maps: &[MapSpec],
    cfg: &GenConfig,
) -> (Vec<Insn>, Vec<&'static str>) {
    let mut g = Gen {
        rng,
        b: Builder::default(),
        prog_type,
        maps,
        init: [false; 512],
        subs: Vec::new(),
        wrong: cfg.wrong_percent,
        names: Vec::new(),
    };
    g.prologue();
    let n = g.rng.range(1, cfg.max_fragments.max(1) as i64);
    for _ in 0..n {
        g.fragment();
    }
    g.epilogue();
    let subs = std::mem::take(&mut g.subs);
    for (label, sub) in subs {
        g.b.bind(label);
        g.emit_sub(sub);
    }
    (g.b.finish(), g.names)
}

impl Gen<'_> {
    fn wrong(&mut self) -> bool {
        self.rng.chance(self.wrong)
    }

    fn scalar_reg(&mut self) -> Reg {
        *self.rng.pick(&[R7, R8, R9]).unwrap_or(&R7)
    }

    fn unknown_reg(&mut self) -> Reg {
        if self.rng.chance(50) { R8 } else { R9 }
    }

    fn is_init(&self, off: i16, len: i16) -> bool {
        (off..off + len).all(|o| (-512..0).contains(&o) && self.init[(512 + o) as usize])
    }

    fn mark_init(&mut self, off: i16, len: i16) {
        for o in off..off + len {
            if (-512..0).contains(&o) {
                self.init[(512 + o) as usize] = true;
            }
        }
    }

    /// Stores zeroes to the 8-byte slots of `lo..hi` (multiples of 8) not yet initialised.
    fn ensure_init(&mut self, lo: i16, hi: i16) {
        let mut off = lo;
        while off < hi {
            if !self.is_init(off, 8) {
                self.b.store(Size::DW, FP, off, Operand::Imm(0));
                self.mark_init(off, 8);
            }
            off += 8;
        }
    }

    fn prologue(&mut self) {
        self.b.mov_reg(R6, Reg::R1);
        let c = self.rng.interesting_imm();
        self.b.mov(R7, c);
        self.b.call(helper::GET_PRANDOM_U32);
        self.b.mov_reg(R8, R0);
        if self.rng.chance(50) {
            self.ctx_scalar(R9);
        } else {
            self.b.mov_reg(R9, R8);
            self.b
                .alu64(AluOp::Rsh, R9, Operand::Imm(self.rng.range(1, 40) as i32));
        }
    }

    /// Loads a context field that is a plain scalar into `dst`.
    fn ctx_scalar(&mut self, dst: Reg) {
        match self.prog_type {
            ProgType::Xdp => self.b.load(Size::W, dst, R6, 12),
            ProgType::Kprobe | ProgType::Syscall => {
                let off = 8 * self.rng.range(0, 4) as i16;
                self.b.load(Size::DW, dst, R6, off)
            }
            _ => self.b.load(Size::W, dst, R6, 0),
        }
    }

    fn epilogue(&mut self) {
        if self.rng.chance(85) || self.wrong() {
            let v = self.rng.range(0, 3) as i32;
            self.b.mov(R0, v);
        } else if self.wrong() {
            self.b.mov_reg(R0, R6);
        } else {
            self.b.mov_reg(R0, R7);
            self.b.alu64(AluOp::And, R0, Operand::Imm(3));
        }
        self.b.exit();
    }

    fn fragment(&mut self) {
        let packet = matches!(self.prog_type, ProgType::Xdp | ProgType::SchedCls);
        let maps = !self.maps.is_empty();
        let weights = [
            ("alu", 10),
            ("stack", 8),
            ("var_stack", 6),
            ("map_access", if maps { 14 } else { 0 }),
            ("map_update", if maps { 4 } else { 0 }),
            ("loop", 5),
            ("branch", 6),
            ("subprog", 5),
            ("helper", 6),
            ("ctx", 7),
            ("packet", if packet { 14 } else { 1 }),
            ("spill", 5),
            ("atomic", 4),
            ("ptr_arith", 4),
        ];
        let w: Vec<u32> = weights.iter().map(|&(_, w)| w).collect();
        let name = weights[self.rng.weighted(&w)].0;
        self.names.push(name);
        match name {
            "alu" => self.alu(),
            "stack" => self.stack(),
            "var_stack" => self.var_stack(),
            "map_access" => self.map_access(),
            "map_update" => self.map_update(),
            "loop" => self.bounded_loop(),
            "branch" => self.branch(),
            "subprog" => self.subprog(),
            "helper" => self.helper(),
            "ctx" => self.ctx(),
            "packet" => self.packet(),
            "spill" => self.spill(),
            "atomic" => self.atomic(),
            _ => self.ptr_arith(),
        }
    }

    fn width(&mut self) -> Width {
        if self.rng.chance(30) {
            Width::W32
        } else {
            Width::W64
        }
    }

    fn size(&mut self) -> Size {
        *self
            .rng
            .pick(&[Size::B, Size::H, Size::W, Size::DW])
            .unwrap_or(&Size::DW)
    }

    fn alu(&mut self) {
        for _ in 0..self.rng.range(1, 4) {
            let dst = self.scalar_reg();
            let width = self.width();
            let bits: i32 = if width == Width::W32 { 32 } else { 64 };
            let src_reg = Operand::Reg(self.scalar_reg());
            let insn = match self.rng.below(7) {
                0 | 1 => {
                    let op = *self
                        .rng
                        .pick(&[
                            AluOp::Add,
                            AluOp::Sub,
                            AluOp::Mul,
                            AluOp::Or,
                            AluOp::And,
                            AluOp::Xor,
                            AluOp::Mov,
                        ])
                        .unwrap_or(&AluOp::Add);
                    let src = if self.rng.chance(50) {
                        src_reg
                    } else {
                        Operand::Imm(self.rng.interesting_imm())
                    };
                    Insn::Alu {
                        width,
                        op,
                        dst,
                        src,
                    }
                }
                2 => {
                    let op = *self
                        .rng
                        .pick(&[AluOp::Lsh, AluOp::Rsh, AluOp::Arsh])
                        .unwrap_or(&AluOp::Lsh);
                    let amount = if self.wrong() {
                        bits
                    } else {
                        self.rng.range(0, i64::from(bits) - 1) as i32
                    };
                    let src = if self.rng.chance(25) {
                        src_reg
                    } else {
                        Operand::Imm(amount)
                    };
                    Insn::Alu {
                        width,
                        op,
                        dst,
                        src,
                    }
                }
                3 => {
                    let op = *self
                        .rng
                        .pick(&[AluOp::Div, AluOp::Mod, AluOp::SDiv, AluOp::SMod])
                        .unwrap_or(&AluOp::Div);
                    let src = if self.rng.chance(40) {
                        src_reg
                    } else if self.wrong() {
                        Operand::Imm(0)
                    } else {
                        Operand::Imm(self.rng.range(1, 100) as i32)
                    };
                    Insn::Alu {
                        width,
                        op,
                        dst,
                        src,
                    }
                }
                4 => Insn::Alu {
                    width,
                    op: AluOp::Neg,
                    dst,
                    src: Operand::Imm(0),
                },
                5 => {
                    let kind = *self
                        .rng
                        .pick(&[Endian::ToLe, Endian::ToBe, Endian::Swap])
                        .unwrap_or(&Endian::ToBe);
                    let bits = *self.rng.pick(&[16u8, 32, 64]).unwrap_or(&16);
                    Insn::Endian { kind, dst, bits }
                }
                _ => {
                    let src = self.scalar_reg();
                    let (op, width) = match self.rng.below(3) {
                        0 => (AluOp::MovSx8, width),
                        1 => (AluOp::MovSx16, width),
                        _ => (AluOp::MovSx32, Width::W64),
                    };
                    Insn::Alu {
                        width,
                        op,
                        dst,
                        src: Operand::Reg(src),
                    }
                }
            };
            self.b.push(insn);
        }
    }

    fn stack(&mut self) {
        let size = self.size();
        let mut off = -8 * self.rng.range(1, 24) as i16;
        if self.rng.chance(4) {
            off += self.rng.range(1, 7) as i16;
        }
        let src = if self.rng.chance(40) {
            Operand::Imm(self.rng.interesting_imm())
        } else {
            Operand::Reg(self.scalar_reg())
        };
        self.b.store(size, FP, off, src);
        if off + size.bytes() as i16 <= 0 {
            self.mark_init(off, size.bytes() as i16);
        }
        let (loff, lsize) = match self.rng.below(10) {
            0..=6 => (off, size),
            7 | 8 => {
                let s = self.size();
                let b = s.bytes() as i16;
                ((off + self.rng.range(-4, 4) as i16).div_euclid(b) * b, s)
            }
            _ => (-8 * self.rng.range(1, 40) as i16, self.size()),
        };
        let dst = self.unknown_reg();
        self.b.load(lsize, dst, FP, loff);
    }

    /// A scalar in `r1` bounded to `0..=max` by an AND or by a branch to `skip`, then
    /// aligned down to `align` (a power of two) unless a wrong variant is chosen.
    fn bounded_r1(&mut self, max: i64, align: u32, skip: Label) {
        self.bound_r1(max, skip);
        if align > 1 && !self.wrong() {
            self.b.alu64(AluOp::And, R1, Operand::Imm(-(align as i32)));
        }
    }

    fn bound_r1(&mut self, max: i64, skip: Label) {
        let src = self.unknown_reg();
        self.b.mov_reg(R1, src);
        let mask = if max < 0 {
            -1
        } else {
            (1i64 << (63 - (max + 1).leading_zeros())) - 1
        };
        if self.rng.chance(75) && mask >= 0 {
            let m = if self.wrong() { mask * 2 + 1 } else { mask };
            self.b.alu64(AluOp::And, R1, Operand::Imm(m as i32));
        } else {
            let limit = if self.wrong() { max + 1 } else { max };
            let (width, cond) = match self.rng.below(8) {
                0 if self.wrong() => (Width::W64, JmpCond::Sgt),
                1 if self.wrong() => (Width::W32, JmpCond::Gt),
                2 => {
                    // `if r1 >= limit + 1 goto skip`
                    self.b.jump(
                        Width::W64,
                        JmpCond::Ge,
                        R1,
                        Operand::Imm(limit as i32 + 1),
                        skip,
                    );
                    return;
                }
                3 => {
                    // signed bound plus a lower bound
                    self.b
                        .jump(Width::W64, JmpCond::Slt, R1, Operand::Imm(0), skip);
                    (Width::W64, JmpCond::Sgt)
                }
                _ => (Width::W64, JmpCond::Gt),
            };
            self.b
                .jump(width, cond, R1, Operand::Imm(limit as i32), skip);
        }
    }

    fn var_stack(&mut self) {
        self.ensure_init(-64, 0);
        let skip = self.b.label();
        let size = self.size();
        let max = 64 - i64::from(size.bytes());
        let max = if self.wrong() { max + 1 } else { max };
        self.bounded_r1(max.max(0), size.bytes(), skip);
        self.b.mov_reg(R2, FP);
        if self.rng.chance(50) {
            self.b.alu64(AluOp::Add, R2, Operand::Imm(-64));
            self.b.alu64(AluOp::Add, R2, Operand::Reg(R1));
        } else {
            self.b.alu64(AluOp::Add, R2, Operand::Reg(R1));
            self.b.alu64(AluOp::Add, R2, Operand::Imm(-64));
        }
        if self.rng.chance(60) {
            self.b.load(size, R0, R2, 0);
            self.b.alu64(AluOp::Add, R7, Operand::Reg(R0));
        } else {
            let v = self.scalar_reg();
            self.b.store(size, R2, 0, Operand::Reg(v));
        }
        self.b.bind(skip);
    }

    fn pick_map(&mut self) -> (usize, MapSpec) {
        let i = self.rng.below(self.maps.len() as u64) as usize;
        (i, self.maps[i])
    }

    /// Writes a key for `m` on the stack and points `r2` at it.
    fn key(&mut self, m: &MapSpec) -> i16 {
        let off = -(m.key_size as i16);
        let k = self.rng.range(0, i64::from(m.max_entries) + 1) as i32;
        if !self.wrong() {
            let size = if m.key_size == 8 { Size::DW } else { Size::W };
            self.b.store(size, FP, off, Operand::Imm(k));
            self.mark_init(off, m.key_size as i16);
        }
        self.b.mov_reg(R2, FP);
        self.b.alu64(AluOp::Add, R2, Operand::Imm(i32::from(off)));
        off
    }

    fn map_access(&mut self) {
        let (i, m) = self.pick_map();
        self.key(&m);
        self.b.ld_map(R1, i);
        self.b.call(helper::MAP_LOOKUP);
        let skip = self.b.label();
        if !self.wrong() {
            if self.rng.chance(70) {
                self.b
                    .jump(Width::W64, JmpCond::Eq, R0, Operand::Imm(0), skip);
            } else {
                let ok = self.b.label();
                self.b
                    .jump(Width::W64, JmpCond::Ne, R0, Operand::Imm(0), ok);
                self.b.goto(skip);
                self.b.bind(ok);
            }
        }
        let vs = i64::from(m.value_size);
        let mut size = self.size();
        while i64::from(size.bytes()) > vs {
            size = Size::B;
        }
        let sb = i64::from(size.bytes());
        match self.rng.below(5) {
            0 | 1 => {
                let mut off = self.rng.range(0, (vs - sb) / sb) * sb;
                if self.wrong() {
                    off = vs - sb + 1;
                }
                if self.rng.chance(60) {
                    self.b.load(size, R1, R0, off as i16);
                    self.b.alu64(AluOp::Xor, R7, Operand::Reg(R1));
                } else {
                    let src = if self.rng.chance(50) {
                        Operand::Reg(self.scalar_reg())
                    } else {
                        Operand::Imm(self.rng.interesting_imm())
                    };
                    self.b.store(size, R0, off as i16, src);
                }
            }
            2 | 3 => {
                let r0_saved = R3;
                self.b.mov_reg(r0_saved, R0);
                self.bounded_r1(vs - sb, 1, skip);
                self.b.alu64(AluOp::Add, r0_saved, Operand::Reg(R1));
                self.b.load(size, R1, r0_saved, 0);
                self.b.alu64(AluOp::Add, R8, Operand::Reg(R1));
            }
            _ => {
                if vs >= 8 {
                    let off = if self.wrong() {
                        4
                    } else {
                        8 * self.rng.range(0, vs / 8 - 1) as i16
                    };
                    let op = *self
                        .rng
                        .pick(&[
                            AtomicOp::Add { fetch: false },
                            AtomicOp::Or { fetch: true },
                            AtomicOp::Xchg,
                        ])
                        .unwrap_or(&AtomicOp::Xchg);
                    self.b.mov_reg(R1, R7);
                    self.b.atomic(Size::DW, op, R0, R1, off);
                } else {
                    self.b.store(Size::W, R0, 0, Operand::Reg(R8));
                }
            }
        }
        self.b.bind(skip);
    }

    fn map_update(&mut self) {
        let (i, m) = self.pick_map();
        let key_off = self.key(&m);
        if m.map_type == MapType::Hash && self.rng.chance(30) {
            self.b.ld_map(R1, i);
            self.b.call(helper::MAP_DELETE);
            self.b.alu64(AluOp::Add, R9, Operand::Reg(R0));
            return;
        }
        let vs = m.value_size as i16;
        let val_off = key_off - ((vs + 7) / 8) * 8;
        if !self.wrong() {
            self.ensure_init(val_off, val_off + ((vs + 7) / 8) * 8);
        }
        self.b.mov_reg(R3, FP);
        let val_off = if self.wrong() { -4 } else { val_off };
        self.b
            .alu64(AluOp::Add, R3, Operand::Imm(i32::from(val_off)));
        self.b.ld_map(R1, i);
        self.b.mov(R4, 0);
        self.b.call(helper::MAP_UPDATE);
        self.b.alu64(AluOp::Add, R9, Operand::Reg(R0));
    }

    fn bounded_loop(&mut self) {
        let n = self.rng.range(1, 20) as i32;
        let start = self.rng.range(0, 2) as i32;
        self.b.mov(R1, start);
        let top = self.b.label();
        self.b.bind(top);
        let dst = self.scalar_reg();
        let op = *self
            .rng
            .pick(&[AluOp::Add, AluOp::Xor, AluOp::Mul])
            .unwrap_or(&AluOp::Add);
        self.b.alu64(op, dst, Operand::Reg(R1));
        if self.wrong() {
            // The counter is reset every iteration: the same state comes back, which the
            // kernel reports as an infinite loop right away.
            self.b.mov(R1, start);
            self.b
                .jump(Width::W64, JmpCond::Slt, R1, Operand::Imm(n), top);
            return;
        }
        let width = self.width();
        self.b.push(Insn::Alu {
            width,
            op: AluOp::Add,
            dst: R1,
            src: Operand::Imm(1),
        });
        let cond = *self
            .rng
            .pick(&[JmpCond::Lt, JmpCond::Ne, JmpCond::Slt])
            .unwrap_or(&JmpCond::Lt);
        let n = if cond == JmpCond::Ne {
            n.max(start + 1)
        } else {
            n
        };
        self.b.jump(width, cond, R1, Operand::Imm(n), top);
    }

    fn branch(&mut self) {
        let els = self.b.label();
        let end = self.b.label();
        let dst = self.unknown_reg();
        let src = if self.rng.chance(40) {
            Operand::Reg(self.scalar_reg())
        } else {
            Operand::Imm(self.rng.interesting_imm())
        };
        let cond = *self
            .rng
            .pick(&[
                JmpCond::Eq,
                JmpCond::Ne,
                JmpCond::Gt,
                JmpCond::Ge,
                JmpCond::Lt,
                JmpCond::Le,
                JmpCond::Sgt,
                JmpCond::Sge,
                JmpCond::Slt,
                JmpCond::Sle,
                JmpCond::Set,
            ])
            .unwrap_or(&JmpCond::Gt);
        let width = self.width();
        self.b.jump(width, cond, dst, src, els);
        self.alu();
        self.b.goto(end);
        self.b.bind(els);
        self.alu();
        self.b.bind(end);
        // A use of the refined register as a small value.
        if self.rng.chance(40) {
            self.b.mov_reg(R7, dst);
        }
    }

    fn subprog(&mut self) {
        let label = self.b.label();
        let sub = match self.rng.below(3) {
            0 => {
                let r1 = self.scalar_reg();
                let r2 = self.scalar_reg();
                self.b.mov_reg(R1, r1);
                self.b.mov_reg(R2, r2);
                let op = *self
                    .rng
                    .pick(&[AluOp::Add, AluOp::Sub, AluOp::Xor, AluOp::Mul])
                    .unwrap_or(&AluOp::Add);
                Sub::Scalars {
                    op,
                    wrong_reads_r6: self.wrong(),
                }
            }
            1 => {
                self.ensure_init(-24, -8);
                self.b.mov_reg(R1, FP);
                self.b.alu64(AluOp::Add, R1, Operand::Imm(-24));
                let off = if self.wrong() {
                    24
                } else {
                    8 * self.rng.range(0, 1) as i16
                };
                Sub::ReadsArg { off }
            }
            _ => {
                self.b.mov_reg(R1, R8);
                let off = -8 * self.rng.range(1, 8) as i16;
                Sub::OwnStack {
                    off,
                    forget_r0: self.wrong(),
                }
            }
        };
        self.b.call_local(label);
        self.b.alu64(AluOp::Add, R7, Operand::Reg(R0));
        self.subs.push((label, sub));
    }

    fn emit_sub(&mut self, sub: Sub) {
        match sub {
            Sub::Scalars { op, wrong_reads_r6 } => {
                self.b.mov_reg(R0, R1);
                self.b
                    .alu64(op, R0, Operand::Reg(if wrong_reads_r6 { R6 } else { R2 }));
            }
            Sub::ReadsArg { off } => self.b.load(Size::DW, R0, R1, off),
            Sub::OwnStack { off, forget_r0 } => {
                self.b.store(Size::DW, FP, off, Operand::Reg(R1));
                if !forget_r0 {
                    self.b.load(Size::DW, R0, FP, off);
                }
            }
        }
        self.b.exit();
    }

    fn helper(&mut self) {
        let tracing = self.prog_type == ProgType::Kprobe;
        let skb = matches!(self.prog_type, ProgType::SocketFilter | ProgType::SchedCls);
        match self.rng.below(7) {
            0 => {
                self.b.call(helper::GET_PRANDOM_U32);
                self.b.alu64(AluOp::Xor, R8, Operand::Reg(R0));
            }
            1 => {
                self.b.call(helper::KTIME_GET_NS);
                self.b.alu64(AluOp::Add, R9, Operand::Reg(R0));
            }
            2 => {
                self.b.call(helper::GET_SMP_PROCESSOR_ID);
                self.b.mov_reg(R9, R0);
            }
            3 if tracing || self.wrong() => {
                self.b.call(helper::GET_CURRENT_PID_TGID);
                self.b.mov_reg(R8, R0);
            }
            4 if skb => {
                let len = if self.wrong() {
                    24
                } else {
                    *self.rng.pick(&[1, 4, 8, 16]).unwrap_or(&8)
                };
                self.b.mov_reg(R1, R6);
                self.b.mov(R2, self.rng.range(0, 20) as i32);
                self.b.mov_reg(R3, FP);
                self.b.alu64(AluOp::Add, R3, Operand::Imm(-16));
                self.b.mov(R4, len);
                self.b.call(helper::SKB_LOAD_BYTES);
                if len <= 16 {
                    self.mark_init(-16, len as i16);
                }
                self.b.load(Size::B, R1, FP, -16);
                self.b.alu64(AluOp::Add, R7, Operand::Reg(R1));
            }
            5 => {
                // bpf_probe_read_kernel(fp-16, size, unknown)
                self.b.mov_reg(R1, FP);
                self.b.alu64(AluOp::Add, R1, Operand::Imm(-16));
                if self.wrong() {
                    self.b.mov_reg(R2, R8);
                } else {
                    self.b.mov(R2, *self.rng.pick(&[4, 8, 16]).unwrap_or(&8));
                }
                self.b.mov_reg(R3, R9);
                self.b.call(helper::PROBE_READ_KERNEL);
            }
            _ if self.wrong() => {
                // A map helper with an argument of the wrong kind.
                if self.maps.is_empty() || self.rng.chance(50) {
                    self.b.mov_reg(R1, FP);
                } else {
                    let (i, _) = self.pick_map();
                    self.b.ld_map(R1, i);
                }
                self.b.mov_reg(R2, R7);
                self.b.call(helper::MAP_LOOKUP);
            }
            _ => {
                self.b.call(helper::GET_PRANDOM_U32);
                self.b.alu64(AluOp::Add, R8, Operand::Reg(R0));
            }
        }
    }

    fn ctx(&mut self) {
        let t = self.prog_type;
        let (size, off, write) = match t {
            ProgType::Xdp => {
                let off = if self.wrong() {
                    24
                } else {
                    4 * self.rng.range(0, 5) as i16
                };
                (Size::W, off, false)
            }
            ProgType::Kprobe => {
                let off = if self.wrong() {
                    168
                } else {
                    8 * self.rng.range(0, 20) as i16
                };
                (
                    if self.rng.chance(80) {
                        Size::DW
                    } else {
                        Size::W
                    },
                    off,
                    self.wrong(),
                )
            }
            ProgType::Syscall => {
                let size = self.size();
                let off = self.rng.range(0, 7) as i16 * size.bytes() as i16;
                (size, off, self.rng.chance(30))
            }
            _ => {
                let fields: &[i16] = if t == ProgType::SchedCls {
                    &[
                        0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68, 72,
                        84, 88, 92, 96, 132, 136, 160, 164, 176,
                    ]
                } else {
                    &[
                        0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68,
                    ]
                };
                let off = if self.wrong() {
                    *self
                        .rng
                        .pick(&[72, 76, 80, 140, 144, 168, 190, 192, 2])
                        .unwrap_or(&2)
                } else {
                    *self.rng.pick(fields).unwrap_or(&0)
                };
                let write = (48..68).contains(&off) && self.rng.chance(40)
                    || (t == ProgType::SchedCls
                        && [8, 32, 44].contains(&off)
                        && self.rng.chance(30));
                let size = if !write && self.rng.chance(20) {
                    *self.rng.pick(&[Size::B, Size::H]).unwrap_or(&Size::B)
                } else {
                    Size::W
                };
                (size, off, write)
            }
        };
        if write {
            let v = self.scalar_reg();
            self.b.store(size, R6, off, Operand::Reg(v));
        } else {
            self.b.load(size, R0, R6, off);
            self.b.alu64(AluOp::Add, R7, Operand::Reg(R0));
        }
    }

    fn packet(&mut self) {
        let (d, e) = match self.prog_type {
            ProgType::Xdp => (0, 4),
            _ => (76, 80),
        };
        let skip = self.b.label();
        self.b.load(Size::W, R2, R6, d);
        self.b.load(Size::W, R3, R6, e);
        let n = self.rng.range(1, 40);
        self.b.mov_reg(R4, R2);
        self.b.alu64(AluOp::Add, R4, Operand::Imm(n as i32));
        let form = if self.wrong() {
            self.rng.range(3, 4)
        } else {
            self.rng.range(0, 2)
        };
        match form {
            0 => self
                .b
                .jump(Width::W64, JmpCond::Gt, R4, Operand::Reg(R3), skip),
            1 => self
                .b
                .jump(Width::W64, JmpCond::Lt, R3, Operand::Reg(R4), skip),
            2 => {
                let ok = self.b.label();
                self.b
                    .jump(Width::W64, JmpCond::Le, R4, Operand::Reg(R3), ok);
                self.b.goto(skip);
                self.b.bind(ok);
            }
            3 => self
                .b
                .jump(Width::W64, JmpCond::Lt, R4, Operand::Reg(R3), skip),
            _ => {}
        }
        let mut size = self.size();
        while i64::from(size.bytes()) > n {
            size = Size::B;
        }
        let sb = i64::from(size.bytes());
        if self.rng.chance(30) && n >= 1 {
            // A variable offset from packet contents, checked again.
            self.b.load(Size::B, R5, R2, 0);
            self.b.alu64(AluOp::And, R5, Operand::Imm(0x1f));
            self.b.alu64(AluOp::Add, R2, Operand::Reg(R5));
            self.b.mov_reg(R4, R2);
            self.b.alu64(AluOp::Add, R4, Operand::Imm(sb as i32));
            let again = if self.wrong() {
                JmpCond::Ge
            } else {
                JmpCond::Gt
            };
            if again == JmpCond::Gt || self.rng.chance(50) {
                self.b.jump(Width::W64, again, R4, Operand::Reg(R3), skip);
            }
            self.b.load(size, R0, R2, 0);
            self.b.alu64(AluOp::Add, R7, Operand::Reg(R0));
        } else {
            let k = if self.wrong() {
                n - sb + 1
            } else {
                self.rng.range(0, n - sb)
            };
            if self.rng.chance(70) {
                self.b.load(size, R0, R2, k as i16);
                self.b.alu64(AluOp::Add, R7, Operand::Reg(R0));
            } else {
                let v = self.scalar_reg();
                self.b.store(size, R2, k as i16, Operand::Reg(v));
            }
        }
        self.b.bind(skip);
    }

    fn spill(&mut self) {
        let off = -8 * self.rng.range(1, 16) as i16;
        match self.rng.below(3) {
            0 => {
                self.b.store(Size::DW, FP, off, Operand::Reg(R6));
                if self.wrong() {
                    self.b.store(Size::W, FP, off, Operand::Imm(0));
                }
                self.mark_init(off, 8);
                self.b.load(Size::DW, R1, FP, off);
                let size = if matches!(self.prog_type, ProgType::Kprobe | ProgType::Syscall) {
                    Size::DW
                } else {
                    Size::W
                };
                self.b.load(size, R0, R1, 0);
                self.b.alu64(AluOp::Add, R7, Operand::Reg(R0));
            }
            1 => {
                let v = self.unknown_reg();
                self.b.store(Size::DW, FP, off, Operand::Reg(v));
                self.mark_init(off, 8);
                let size = *self
                    .rng
                    .pick(&[Size::W, Size::H, Size::B, Size::DW])
                    .unwrap_or(&Size::W);
                let lo = if self.rng.chance(50) {
                    off
                } else {
                    off + 8 - size.bytes() as i16
                };
                self.b.load(size, R9, FP, lo);
            }
            _ => {
                self.ensure_init(-32, -24);
                self.b.mov_reg(R1, FP);
                self.b.alu64(AluOp::Add, R1, Operand::Imm(-32));
                self.b.store(Size::DW, FP, -40, Operand::Reg(R1));
                self.mark_init(-40, 8);
                self.b.load(Size::DW, R2, FP, -40);
                let d = if self.wrong() { 32 } else { 0 };
                let v = self.scalar_reg();
                self.b.store(Size::DW, R2, d, Operand::Reg(v));
            }
        }
    }

    fn atomic(&mut self) {
        let dw = self.rng.chance(60);
        let size = if dw { Size::DW } else { Size::W };
        let off = -8 * self.rng.range(1, 12) as i16;
        self.ensure_init(off, off + 8);
        let off = if self.wrong() { off + 2 } else { off };
        let op = *self
            .rng
            .pick(&[
                AtomicOp::Add { fetch: false },
                AtomicOp::Add { fetch: true },
                AtomicOp::And { fetch: false },
                AtomicOp::Or { fetch: true },
                AtomicOp::Xor { fetch: false },
                AtomicOp::Xchg,
                AtomicOp::CmpXchg,
            ])
            .unwrap_or(&AtomicOp::Xchg);
        if op == AtomicOp::CmpXchg {
            self.b.mov_reg(R0, R7);
        }
        let v = self.scalar_reg();
        self.b.mov_reg(R1, v);
        self.b.atomic(size, op, FP, R1, off);
        if matches!(
            op,
            AtomicOp::Add { fetch: true } | AtomicOp::Or { fetch: true } | AtomicOp::Xchg
        ) {
            self.b.alu64(AluOp::Add, R9, Operand::Reg(R1));
        }
    }

    fn ptr_arith(&mut self) {
        let kind = if self.wrong() {
            self.rng.below(4)
        } else {
            self.rng.below(2)
        };
        match kind {
            0 => {
                let c = 8 * self.rng.range(1, 16) as i32;
                self.b.mov_reg(R1, FP);
                self.b.alu64(AluOp::Add, R1, Operand::Imm(-c));
                let d = if self.wrong() {
                    c as i16
                } else {
                    8 * self.rng.range(0, i64::from(c / 8) - 1) as i16
                };
                let v = self.scalar_reg();
                self.b.store(Size::DW, R1, d, Operand::Reg(v));
                let abs = d - c as i16;
                if abs + 8 <= 0 {
                    self.mark_init(abs, 8);
                }
            }
            1 => {
                // Pointer difference is a scalar for privileged programs.
                self.b.mov_reg(R1, FP);
                self.b.alu64(AluOp::Add, R1, Operand::Imm(-16));
                self.b.mov_reg(R2, FP);
                self.b.alu64(AluOp::Sub, R2, Operand::Reg(R1));
                self.b.alu64(AluOp::Add, R7, Operand::Reg(R2));
            }
            2 => {
                // Modified context pointer dereference.
                self.b.mov_reg(R1, R6);
                self.b.alu64(AluOp::Add, R1, Operand::Imm(4));
                self.b.load(Size::W, R0, R1, 0);
                self.b.alu64(AluOp::Add, R7, Operand::Reg(R0));
            }
            _ => {
                // Unknown scalar added to a stack pointer.
                self.b.mov_reg(R1, FP);
                let r = self.unknown_reg();
                self.b.alu64(AluOp::Add, R1, Operand::Reg(r));
                self.b.store(Size::B, R1, -8, Operand::Imm(1));
            }
        }
    }
}
