// The decode and prefill tile configurations of kernels::attention (attention_kernel.cuh), for every
// value-width bucket (attention.cu says how one is chosen). Instantiated here, apart from the MLA
// latent configurations (attention_mla.cu), so that the two compile in parallel.
#include "kernels/attention_kernel.cuh"

namespace moesim::kernels::attn {

namespace {

// DVP (v_dim rounded up), WM (warps over rows), WN (warps over keys / value columns), BN (keys per tile).
const Variant gqa_table[] = {
    // Decode: at most 16 rows (the query heads of one KV head), 4 warps splitting each tile's keys
    // and the value columns; S and P go through shared memory.
    variant<64, 1, 4, 64, false>(Shape::decode),
    variant<128, 1, 4, 64, false>(Shape::decode),
    variant<192, 1, 4, 64, false>(Shape::decode),
    variant<256, 1, 4, 64, false>(Shape::decode),
    variant<384, 1, 4, 64, false>(Shape::decode),
    variant<512, 1, 4, 64, false>(Shape::decode),
    variant<576, 1, 4, 64, false>(Shape::decode),
    // ... with 32-key tiles where 64 do not fit in shared memory (qk_dim near 576 on an A100).
    variant<512, 1, 4, 32, false>(Shape::decode),
    variant<576, 1, 4, 32, false>(Shape::decode),
    // Prefill, values up to 256 wide: 64 rows, one warp per 16 rows owning whole rows (S, P and the
    // statistics stay in registers).
    variant<64, 4, 1, 64, false>(Shape::prefill),
    variant<128, 4, 1, 64, false>(Shape::prefill),
    variant<192, 4, 1, 64, false>(Shape::prefill),
    variant<256, 4, 1, 64, false>(Shape::prefill),
    variant<192, 4, 1, 32, false>(Shape::prefill),
    variant<256, 4, 1, 32, false>(Shape::prefill),
    // Prefill, wider values: 32 rows, 4 warps over the value columns (O would not fit one warp's
    // registers), S and P through shared memory; 32-key tiles above 384 (with 64, ptxas spills).
    variant<384, 2, 4, 64, false>(Shape::prefill),
    variant<384, 2, 4, 32, false>(Shape::prefill),
    variant<512, 2, 4, 32, false>(Shape::prefill),
    variant<576, 2, 4, 32, false>(Shape::prefill),
};

} // namespace

VariantList gqa_variants()
{
  return {gqa_table, static_cast<int>(sizeof gqa_table / sizeof gqa_table[0])};
}

} // namespace moesim::kernels::attn
