//! Hash-map lookup hit path as a program sees it (`bpf_map_lookup_elem` on a u32 → u64 hash
//! map, inside one read section, like one program run doing lookups in a loop).
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use lull_abi::MapType;
use lull_maps::update_flags::BPF_ANY;
use lull_maps::{Map, MapContext, MapSpec};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let ctx = MapContext::new(1);
    for (name, ty, flags) in [
        ("hash_prealloc", MapType::Hash, 0),
        (
            "hash_no_prealloc",
            MapType::Hash,
            lull_abi::map_flags::NO_PREALLOC,
        ),
        ("lru_hash", MapType::LruHash, 0),
        ("array", MapType::Array, 0),
    ] {
        let map = Map::create(MapSpec::new(ty, 4, 8, 1024).with_flags(flags), &ctx).unwrap();
        for i in 0..1024u32 {
            map.update(&i.to_ne_bytes(), &u64::from(i).to_ne_bytes(), BPF_ANY)
                .unwrap();
        }
        let keys: Vec<[u8; 4]> = (0..1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) % 1024).to_ne_bytes())
            .collect();
        c.bench_function(&format!("{name}_lookup_hit_x1024"), |b| {
            let _section = ctx.domain.read_atomic();
            b.iter(|| {
                let mut sum = 0usize;
                for k in &keys {
                    sum = sum.wrapping_add(
                        map.lookup(black_box(k), 0)
                            .map_or(0, |p| p.as_ptr() as usize),
                    );
                }
                sum
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
