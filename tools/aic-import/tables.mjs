// One converter per AIConfigurator table kind, all with the same shape: the table's file name, the
// columns it must have, and `record(row, sel, fp8)` turning one row into a moesim op-bench record (or null
// when the row is outside what we import). Latencies are milliseconds in the tables and seconds
// in the records. Adding a table kind is one entry here.
import { InputError } from './errors.mjs'

// AIConfigurator's dtype spellings -> moesim's (core/dtype.hpp). Anything else is skipped.
// `fp8` GEMMs are per-tensor FP8 (with the activation's quantize); `fp8_block` GEMMs are FP8 with
// 128x128 weight and 1x128 activation scale blocks (DeepSeek-V3's checkpoints; DeepGEMM on
// Blackwell), a kernel of its own: the record keeps dtype fp8 and says `scales: block`. They are
// imported where the set's `fp8` list names block_gemm.
const GEMM_DTYPES = { bfloat16: ['bf16'], fp8: ['fp8'], fp8_block: ['fp8', 'block'], nvfp4: ['nvfp4'] }
const ATTN_DTYPES = { bfloat16: 'bf16' }
// The KV cache imported beside the attention's own dtype, where the set's `fp8` list names
// kv_cache: fp8 (e4m3, the cache TensorRT-LLM keeps with kv_cache_config.dtype fp8). Such a record
// says `kv_dtype: fp8`.
const KV_DTYPES = { fp8: 'fp8' }

// The record's kv_dtype field: {} when the cache is the attention's dtype, {kv_dtype} for an fp8
// cache the set imports, null otherwise (skipped).
function kv_field(row, attn_dtype_col, fp8) {
  if (row.kv_cache_dtype === row[attn_dtype_col])
    return {}
  const kv = fp8.includes('kv_cache') ? KV_DTYPES[row.kv_cache_dtype] : undefined
  return kv ? { kv_dtype: kv } : null
}
const MOE_DTYPES = { bfloat16: 'bf16', fp8: 'fp8', nvfp4: 'nvfp4' }
// `fp8_block` MoE layers are FP8 experts with 128x128 weight blocks (DeepSeek-V3's checkpoint; SGLang
// runs them through DeepGEMM): dtype fp8 with `scales: block`, imported where the set's `fp8` list
// names block_moe.

// MoE `mxfp4` (gpt-oss's MXFP4 experts) is the path the engine runs on that GPU, one quant mode
// per table, so that no shape has two. TensorRT-LLM runs MXFP8 activations on Blackwell and bf16
// activations (Triton) on Hopper: its gpt-oss deployment guide (B200/GB200/B300/GB300 MXFP8 x
// MXFP4, TRTLLM backend; H200 BF16 x MXFP4, TRITON) and blog9_Deploying_GPT_OSS_on_TRTLLM.md
// @04a2a26 (Blackwell W4A8_MXFP4_MXFP8, Hopper W4A16_MXFP4). So a Blackwell TRT-LLM table gives
// `w4a8_mxfp4_mxfp8` and its `w4a16_mxfp4` rows are left out; Hopper tables have only W4A16.
// The RTX PRO 6000 (SM120; device "NVIDIA RTX PRO 6000 Blackwell Server Edition") matches too, and
// its TRT-LLM 1.3.0rc20 table has only w4a8_mxfp4_mxfp8 rows, so nothing of it is left out.
// vLLM stays `w4a16_mxfp4`: its gpt-oss kernel there is the mxfp4_bf16 one
// (vllm_gptossmxfp4moe_..._mxfp4_bf16_...); its mxfp8 rows are another MoE class.
const BLACKWELL = /\bG?B[1-3]00\b|Blackwell/   // the table's nvidia-smi name (`device` column)

// `int4_wo` MoE layers are int4 weight-only experts on bf16 activations (W4A16: compressed-tensors
// int4 through Marlin in vLLM and SGLang): dtype int4, imported where the set says moe_int4.
function moe_dtype(row, fp8, sel) {
  const d = MOE_DTYPES[row.moe_dtype]
  if (d)
    return { dtype: d }
  if (row.moe_dtype === 'int4_wo')
    return sel.moe_int4 ? { dtype: 'int4' } : null
  if (row.moe_dtype === 'fp8_block')
    return fp8.includes('block_moe') ? { dtype: 'fp8', scales: 'block' } : null
  const w4a8 = row.framework === 'TRTLLM' && BLACKWELL.test(row.device)
  return row.moe_dtype === (w4a8 ? 'w4a8_mxfp4_mxfp8' : 'w4a16_mxfp4') ? { dtype: 'mxfp4' } : null
}

// One whole-MoE-layer row into a record, for both MoE tables (moe_perf and SGLang's wide-EP
// generation table): the set's distributions and GPU count decide which rows are kept.
function moe_record(row, sel, fp8) {
  const d = moe_dtype(row, fp8, sel)
  if (!d || /nongated/.test(row.kernel_source) || (sel.moe_distributions && !sel.moe_distributions.includes(row.distribution)))
    return null
  if (sel.moe_max_gpus && int(row, 'moe_tp_size') * int(row, 'moe_ep_size') > sel.moe_max_gpus)
    return null
  if (sel.moe_shapes && !sel.moe_shapes.some(([h, i, k, e]) => int(row, 'hidden_size') === h && int(row, 'inter_size') === i &&
                                                            int(row, 'topk') === k && int(row, 'num_experts') === e))
    return null
  return { op: 'moe', dtype: d.dtype, ...(d.scales ? { scales: d.scales } : {}), kernel: row.kernel_source, launch: 'graph',
           tokens: int(row, 'num_tokens'), hidden: int(row, 'hidden_size'), inter: int(row, 'inter_size'),
           topk: int(row, 'topk'), experts: int(row, 'num_experts'), moe_tp: int(row, 'moe_tp_size'),
           moe_ep: int(row, 'moe_ep_size'), distribution: row.distribution }
}

const MOE_COLUMNS = ['framework', 'device', 'moe_dtype', 'kernel_source', 'num_tokens', 'hidden_size', 'inter_size', 'topk',
                     'num_experts', 'moe_tp_size', 'moe_ep_size', 'distribution', 'latency']

// DeepSeek-V3 MLA geometry: the only one AIConfigurator's kernel-level MLA tables measure
// (collector/trtllm/collect_mla.py rejects any other).
const MLA = { kv_lora_rank: 512, rope_dim: 64, nope_dim: 128, v_dim: 128 }

const int = (row, col) => Number(row[col])

function need(row, cols, where) {
  for (const c of cols)
    if (!(c in row))
      throw new InputError(where, c, 'column missing', 'check the table kind and AIConfigurator version')
}

// Decode attention: the table's `step` is the KV history before the new token; the kernel reads
// step + 1 positions (vLLM's seq_lens include the query token).
function decode_context(row) {
  return int(row, 'step') + 1
}

export const TABLE_KINDS = [
  {
    name: 'gemm',
    file: 'gemm/{fw}/{ver}/gemm_perf.parquet',
    columns: ['gemm_dtype', 'kernel_source', 'm', 'n', 'k', 'latency'],
    record(row, sel, fp8) {
      const spelled = GEMM_DTYPES[row.gemm_dtype]
      if (!spelled || (sel.gemm_m && !sel.gemm_m.includes(int(row, 'm'))))
        return null
      const [dtype, scales] = spelled
      if (scales && !fp8.includes('block_gemm'))
        return null
      return { op: 'gemm', dtype, ...(scales ? { scales } : {}), kernel: row.kernel_source, launch: 'graph',
               m: int(row, 'm'), n: int(row, 'n'), k: int(row, 'k'), batch: 1 }
    },
  },
  {
    name: 'generation_attention',
    file: 'attention/{fw}/{ver}/generation_attention_perf.parquet',
    columns: ['attn_dtype', 'kv_cache_dtype', 'kernel_source', 'batch_size', 'num_heads', 'num_key_value_heads',
              'head_dim', 'step', 'latency'],
    record(row, sel, fp8) {
      const dtype = ATTN_DTYPES[row.attn_dtype], kv = kv_field(row, 'attn_dtype', fp8)
      if (!dtype || !kv || !gqa_ok(row, sel))
        return null
      const d = int(row, 'head_dim')
      return { op: 'attention_decode', attn: 'gqa', dtype, ...kv, kernel: row.kernel_source, launch: 'graph',
               batch: int(row, 'batch_size'), q_heads: int(row, 'num_heads'), kv_heads: int(row, 'num_key_value_heads'),
               head_dim_qk: d, head_dim_v: d, context: decode_context(row), kv_lora_rank: 0, rope_dim: 0,
               window: Number(row.window_size ?? 0) }
    },
  },
  {
    name: 'context_attention',
    file: 'attention/{fw}/{ver}/context_attention_perf.parquet',
    columns: ['attn_dtype', 'kv_cache_dtype', 'kernel_source', 'batch_size', 'isl', 'num_heads', 'num_key_value_heads',
              'head_dim', 'latency'],
    record(row, sel, fp8) {
      const dtype = ATTN_DTYPES[row.attn_dtype], kv = kv_field(row, 'attn_dtype', fp8)
      if (!dtype || !kv || !gqa_ok(row, sel))
        return null
      const d = int(row, 'head_dim')
      return { op: 'attention_prefill', attn: 'gqa', dtype, ...kv, kernel: row.kernel_source, launch: 'graph',
               batch: int(row, 'batch_size'), q_heads: int(row, 'num_heads'), kv_heads: int(row, 'num_key_value_heads'),
               head_dim_qk: d, head_dim_v: d, prompt: int(row, 'isl'), cached: 0, kv_lora_rank: 0, rope_dim: 0,
               window: Number(row.window_size ?? 0) }
    },
  },
  {
    // Absorbed MLA decode: per local head, q and the cached latent are kv_lora_rank + rope wide,
    // the output kv_lora_rank wide; the table's num_heads is already per GPU (heads / tp_size).
    name: 'generation_mla',
    file: 'mla/{fw}/{ver}/generation_mla_perf.parquet',
    columns: ['mla_dtype', 'kv_cache_dtype', 'num_heads', 'batch_size', 'step', 'latency'],
    record(row, sel, fp8) {
      const dtype = ATTN_DTYPES[row.mla_dtype], kv = kv_field(row, 'mla_dtype', fp8)
      if (!dtype || !kv)
        return null
      return { op: 'attention_decode', attn: 'mla', dtype, ...kv, kernel: row.kernel_source ?? 'default', launch: 'graph',
               batch: int(row, 'batch_size'), q_heads: int(row, 'num_heads'), kv_heads: 1,
               head_dim_qk: MLA.kv_lora_rank + MLA.rope_dim, head_dim_v: MLA.kv_lora_rank, context: decode_context(row),
               kv_lora_rank: MLA.kv_lora_rank, rope_dim: MLA.rope_dim, window: 0 }
    },
  },
  {
    // MLA prefill runs on decompressed keys and values: per head qk = nope + rope, v = v_head_dim.
    name: 'context_mla',
    file: 'mla/{fw}/{ver}/context_mla_perf.parquet',
    columns: ['mla_dtype', 'kv_cache_dtype', 'num_heads', 'batch_size', 'isl', 'latency'],
    record(row, sel, fp8) {
      const dtype = ATTN_DTYPES[row.mla_dtype], kv = kv_field(row, 'mla_dtype', fp8)
      if (!dtype || !kv)
        return null
      return { op: 'attention_prefill', attn: 'mla', dtype, ...kv, kernel: row.kernel_source ?? 'default', launch: 'graph',
               batch: int(row, 'batch_size'), q_heads: int(row, 'num_heads'), kv_heads: int(row, 'num_heads'),
               head_dim_qk: MLA.nope_dim + MLA.rope_dim, head_dim_v: MLA.v_dim, prompt: int(row, 'isl'), cached: 0,
               kv_lora_rank: MLA.kv_lora_rank, rope_dim: MLA.rope_dim, window: 0 }
    },
  },
  {
    // A whole fused MoE layer on one GPU (routing permute, gate/up GEMM, activation, down GEMM,
    // combine) for num_tokens tokens, its experts split moe_tp x moe_ep ways. Non-gated kernels
    // (one up projection, no gate) are a different op and are left out.
    name: 'moe',
    file: 'moe/{fw}/{ver}/moe_perf.parquet',
    columns: MOE_COLUMNS,
    record: moe_record,
  },
  {
    // SGLang's wide-EP decode MoE layer (kernel_source deepepmoe: DeepEP's low-latency layout and
    // the masked grouped GEMMs of one GPU of an EP group, num_tokens being the whole group's
    // tokens), the path a DP-attention + DeepEP deployment decodes with. Same columns as moe_perf.
    name: 'wideep_generation_moe',
    file: 'moe/{fw}/{ver}/wideep_generation_moe_perf.parquet',
    columns: MOE_COLUMNS,
    record: moe_record,
  },
]

function gqa_ok(row, sel) {
  const w = Number(row.window_size ?? 0), d = int(row, 'head_dim')
  return (!sel.attention_windows || sel.attention_windows.includes(w)) &&
         (!sel.attention_head_dims || sel.attention_head_dims.includes(d))
}

export function check_columns(row, kind, where) {
  need(row, kind.columns, where)
}
