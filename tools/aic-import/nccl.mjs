// AIConfigurator's NCCL tables (nccl-tests runs: all_gather, alltoall, reduce_scatter, all_reduce
// at 2, 4 and 8 GPUs of one node, one thread per GPU) as one small CSV: the newest NCCL version
// per GPU, time per (op, dtype, GPUs, bytes) as the median of the table's repeated rows.
import { InputError } from './errors.mjs'
import { DATA_PREFIX } from './source.mjs'
import { round4 } from './records.mjs'

const BYTES_PER_ELEMENT = { half: 2, int8: 1 }
const OPS = ['all_reduce', 'all_gather', 'reduce_scatter', 'alltoall']

function version_cmp(a, b) {
  const pa = a.split(/[.]/), pb = b.split(/[.]/)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = Number(pa[i] ?? -1), y = Number(pb[i] ?? -1)
    if (x !== y)
      return x - y
  }
  return 0
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
}

export async function nccl_csv(src, opts, repo_name) {
  for (const k of Object.keys(opts))
    if (!['dtypes', 'comment'].includes(k))
      throw new InputError('selection', `nccl.${k}`, 'unknown key', 'use dtypes')
  const dtypes = opts.dtypes ?? ['half']
  for (const d of dtypes)
    if (!(d in BYTES_PER_ELEMENT))
      throw new InputError('selection', 'nccl.dtypes', `unknown dtype ${d}`, 'use half or int8 (nccl-tests -d)')
  const tables = src.list('').filter(p => /^[^/]+\/comm\/nccl\/[^/]+\/nccl_perf\.parquet$/.test(p))
  const newest = new Map()
  for (const p of tables) {
    const [gpu, , , ver] = p.split('/')
    if (!newest.has(gpu) || version_cmp(ver, newest.get(gpu).ver) > 0)
      newest.set(gpu, { ver, p })
  }
  const lines = []
  for (const gpu of [...newest.keys()].sort()) {
    const { ver, p } = newest.get(gpu)
    const rows = await src.rows(p)
    const groups = new Map()
    let device = ''
    for (const r of rows) {
      for (const c of ['op_name', 'nccl_dtype', 'num_gpus', 'message_size', 'latency'])
        if (!(c in r))
          throw new InputError(DATA_PREFIX + p, c, 'column missing', 'check the AIConfigurator version')
      if (!dtypes.includes(r.nccl_dtype) || !OPS.includes(r.op_name) || !(Number(r.latency) > 0))
        continue
      device = r.device ?? device
      const bytes = Number(r.message_size) * BYTES_PER_ELEMENT[r.nccl_dtype]
      const key = [OPS.indexOf(r.op_name), r.nccl_dtype, Number(r.num_gpus), bytes].join('|')
      if (!groups.has(key))
        groups.set(key, { op: r.op_name, dtype: r.nccl_dtype, gpus: Number(r.num_gpus), bytes, t: [] })
      groups.get(key).t.push(Number(r.latency) / 1e3)
    }
    const sorted = [...groups.values()].sort((a, b) =>
      OPS.indexOf(a.op) - OPS.indexOf(b.op) || (a.dtype < b.dtype ? -1 : a.dtype > b.dtype ? 1 : 0) || a.gpus - b.gpus || a.bytes - b.bytes)
    for (const g of sorted)
      lines.push([gpu, device, ver, g.op, g.dtype, g.gpus, g.bytes, round4(median(g.t)), g.t.length,
                  round4(Math.min(...g.t)), round4(Math.max(...g.t))].join(','))
  }
  const head = [
    `# NCCL collective latencies measured by NVIDIA with nccl-tests, from ${repo_name} at commit ${src.commit} (${src.date}),`,
    `# table of each row: ${DATA_PREFIX}<gpu>/comm/nccl/<nccl>/nccl_perf.parquet (Apache-2.0). Derived by moesim's`,
    '# tools/aic-import: the newest NCCL version per GPU, dtypes ' + dtypes.join(', ') + '; one node, one thread per GPU;',
    '# nccl-tests out-of-place time, run as the collector (collector/network/collect_nccl.py) runs it at that commit:',
    '# -w 40 -n 100 (-n 60 above 16 MiB) -c 0. Times are seconds.',
    '# bytes = nccl-tests "size" (message_size elements x dtype bytes); seconds = median of the table\'s repeated rows;',
    '# repeats = how many rows it had for that size; min/max_seconds = their spread; device = the table\'s nvidia-smi name.',
    'gpu,device,nccl,op,dtype,gpus,bytes,seconds,repeats,min_seconds,max_seconds',
  ]
  return head.concat(lines).join('\n') + '\n'
}
