// The MLA latent-cache tile configurations of kernels::attention (attention_kernel.cuh): the values
// are the first v_dim (kv_lora_rank) elements of each key row, read from the K tile, for every
// value-width bucket. 32 rows (2 warps over rows) and 32-key tiles, 4 warps over the keys and the
// value columns: the key rows are long (kv_lora_rank + rope up to 576), and one latent row serves
// every query head.
#include "kernels/attention_kernel.cuh"

namespace moesim::kernels::attn {

namespace {

const Variant mla_table[] = {
    variant<64, 2, 4, 32, true>(Shape::latent),  variant<128, 2, 4, 32, true>(Shape::latent),
    variant<192, 2, 4, 32, true>(Shape::latent), variant<256, 2, 4, 32, true>(Shape::latent),
    variant<384, 2, 4, 32, true>(Shape::latent), variant<512, 2, 4, 32, true>(Shape::latent),
    variant<576, 2, 4, 32, true>(Shape::latent),
};

} // namespace

VariantList mla_variants()
{
  return {mla_table, static_cast<int>(sizeof mla_table / sizeof mla_table[0])};
}

} // namespace moesim::kernels::attn
