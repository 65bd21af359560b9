// Records in, bytes out: one shape keeps its fastest kernel (or, where a MoE set asks, each kernel
// its own), records are sorted by op and shape (then kernel), times are rounded to 4 significant
// digits (0.01%, far below the tables' own repeat noise), and the file is written one record per
// line so that diffs and gzip both stay small.
import zlib from 'node:zlib'

const OP_ORDER = ['gemm', 'attention_decode', 'attention_prefill', 'moe']
const NOT_SHAPE = new Set(['kernel', 'seconds', 'source_row'])

export function round4(x) {
  return Number(x.toPrecision(4))
}

// The identity of a measurement: every field except which kernel ran, its time and its row.
export function shape_key(r) {
  return Object.keys(r).filter(k => !NOT_SHAPE.has(k)).map(k => `${k}=${r[k]}`).join(',')
}

// Several kernels measured for one shape (vLLM and TRT-LLM tables list each backend they can
// dispatch to): keep the fastest, as an autotuning engine would. Ties keep the first row. With
// each_kernel, the kernel is part of the shape: each kernel keeps its fastest row of the shape.
export function keep_fastest(records, { each_kernel = false } = {}) {
  const best = new Map()
  for (const r of records) {
    const k = each_kernel ? `${shape_key(r)},kernel=${r.kernel}` : shape_key(r)
    const b = best.get(k)
    if (!b || r.seconds < b.seconds)
      best.set(k, r)
  }
  return [...best.values()]
}

function compare(a, b) {
  const oa = OP_ORDER.indexOf(a.op), ob = OP_ORDER.indexOf(b.op)
  if (oa !== ob)
    return oa - ob
  // The fields both records have, in their order, then those only one has (a kernel variant's
  // `scales`, an fp8 cache's `kv_dtype`) by name: the record without one sorts first.
  const common = Object.keys(a).filter(k => k in b)
  const own = Object.keys(a).concat(Object.keys(b)).filter(k => !(k in a && k in b)).sort()
  const keys = [...common, ...own]
  for (const k of keys) {
    if (NOT_SHAPE.has(k))
      continue
    const x = a[k], y = b[k]
    if (x === y)
      continue
    if (x === undefined || y === undefined)
      return x === undefined ? -1 : 1
    if (typeof x === 'number' && typeof y === 'number')
      return x - y
    return String(x) < String(y) ? -1 : 1
  }
  // One shape, several kernels kept (moe_each_kernel): by kernel name.
  const ka = a.kernel ?? '', kb = b.kernel ?? ''
  return ka === kb ? 0 : ka < kb ? -1 : 1
}

export function sort_records(records) {
  return [...records].sort(compare)
}

export function serialise(doc) {
  const head = { format: doc.format, source: doc.source, system: doc.system }
  const lines = doc.records.map(r => JSON.stringify(r))
  const h = JSON.stringify(head)
  return `${h.slice(0, -1)},\n"records":[\n${lines.join(',\n')}\n]}\n`
}

// gzip with a zero timestamp: the same records give the same bytes.
export function gzip(text) {
  return zlib.gzipSync(Buffer.from(text, 'utf8'), { level: 9 })
}
