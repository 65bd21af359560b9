#!/usr/bin/env node
// Imports NVIDIA AIConfigurator's public per-op tables into moesim's own derived files:
//   <out-dir>/<gpu>.<framework>-<version>.json.gz  op-bench records ("moesim-op-bench-1")
//   <nccl-out>                                      nccl-tests latencies per GPU, op, group, size
// selection.json says which GPU / framework / version sets, which shapes, and which NCCL tables.
// Usage: node import.mjs --repo PATH [--commit REV] [--selection FILE] [--out-dir DIR] [--nccl-out FILE]
// Nothing is written unless every table converts; bad input is one line and exit code 2.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { InputError } from './errors.mjs'
import { AicSource, DATA_PREFIX } from './source.mjs'
import { TABLE_KINDS, check_columns } from './tables.mjs'
import { gzip, keep_fastest, round4, serialise, sort_records } from './records.mjs'
import { nccl_csv } from './nccl.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '..', '..')
const REPO_NAME = 'ai-dynamo/aiconfigurator'

function parse_args(argv) {
  const a = { commit: 'HEAD', selection: path.join(HERE, 'selection.json'),
              'out-dir': path.join(ROOT, 'platforms', 'public', 'aiconfigurator'),
              'nccl-out': path.join(ROOT, 'validate', 'public', 'aiconfigurator-nccl.csv') }
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '')
    if (!argv[i].startsWith('--') || !(k in a || k === 'repo'))
      throw new InputError('command line', argv[i], 'unknown option', 'use --repo, --commit, --selection, --out-dir, --nccl-out')
    if (i + 1 >= argv.length)
      throw new InputError('command line', argv[i], 'needs a value', `write ${argv[i]} VALUE`)
    a[k] = argv[++i]
  }
  if (!a.repo)
    throw new InputError('command line', '--repo', 'missing', 'pass a checkout or bare mirror of ai-dynamo/aiconfigurator')
  return a
}

const SELECTION_KEYS = ['comment', 'gemm_m', 'attention_windows', 'attention_head_dims', 'moe_distributions', 'moe_max_gpus', 'sets', 'nccl']
// A set may narrow or widen the selection's MoE rules for its own tables (moe_distributions,
// moe_max_gpus): SGLang's wide-EP tables measure uniform routing over up to 64 GPUs.
// A set's `moe_each_kernel: true` keeps every MoE kernel's own record of a shape (each TensorRT-LLM
// MoE backend the table measured), not only the fastest: a study names the backend its run used.
// A set's `moe_shapes` keeps only the MoE layers of those shapes ([hidden, inter, topk, experts]);
// `moe_int4: true` keeps int4 weight-only MoE layers (`int4_wo`, W4A16) as dtype int4; `file_tag`
// names the file <gpu>.<framework>-<version>.<tag>.json.gz, a set of its own beside the untagged one.
const SET_KEYS = ['gpu', 'framework', 'version', 'tables', 'fp8', 'moe_distributions', 'moe_max_gpus', 'moe_each_kernel',
                  'moe_shapes', 'moe_int4', 'file_tag', 'comment']
// A set's `fp8` list: the fp8 kernels imported beside the per-tensor GEMMs and same-dtype caches.
const FP8_KINDS = ['block_gemm', 'kv_cache', 'block_moe']

function load_selection(file) {
  let sel
  try {
    sel = JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch (e) {
    throw new InputError(file, '', `cannot read: ${e.message}`, 'pass a JSON selection like tools/aic-import/selection.json')
  }
  for (const k of Object.keys(sel))
    if (!SELECTION_KEYS.includes(k))
      throw new InputError(file, k, 'unknown key', `use ${SELECTION_KEYS.join(', ')}`)
  if (!Array.isArray(sel.sets) || sel.sets.length === 0)
    throw new InputError(file, 'sets', 'missing or empty', 'list {gpu, framework, version} objects')
  sel.sets.forEach((s, i) => {
    for (const k of Object.keys(s))
      if (!SET_KEYS.includes(k))
        throw new InputError(file, `sets[${i}].${k}`, 'unknown key', `use ${SET_KEYS.join(', ')}`)
    for (const k of ['gpu', 'framework', 'version'])
      if (typeof s[k] !== 'string' || !s[k])
        throw new InputError(file, `sets[${i}].${k}`, 'missing', 'name the AIConfigurator folder, e.g. h200_sxm / vllm / 0.24.0')
    for (const f of s.fp8 ?? [])
      if (!FP8_KINDS.includes(f))
        throw new InputError(file, `sets[${i}].fp8`, `unknown fp8 kind ${f}`, `use ${FP8_KINDS.join(', ')}`)
    if ('moe_each_kernel' in s && typeof s.moe_each_kernel !== 'boolean')
      throw new InputError(file, `sets[${i}].moe_each_kernel`, 'not true or false', 'write true to keep each MoE kernel')
    if ('moe_int4' in s && typeof s.moe_int4 !== 'boolean')
      throw new InputError(file, `sets[${i}].moe_int4`, 'not true or false', 'write true to keep int4_wo MoE layers')
    if ('file_tag' in s && !(typeof s.file_tag === 'string' && /^[a-z0-9_]+$/.test(s.file_tag)))
      throw new InputError(file, `sets[${i}].file_tag`, 'not a lower-case word', 'write e.g. "moe"')
    if ('moe_shapes' in s && !(Array.isArray(s.moe_shapes) &&
        s.moe_shapes.every(x => Array.isArray(x) && x.length === 4 && x.every(n => Number.isInteger(n) && n > 0))))
      throw new InputError(file, `sets[${i}].moe_shapes`, 'not a list of [hidden, inter, topk, experts]', 'write e.g. [[7168, 2048, 8, 256]]')
    for (const t of s.tables ?? [])
      if (!TABLE_KINDS.some(kind => kind.name === t))
        throw new InputError(file, `sets[${i}].tables`, `unknown table kind ${t}`, `use ${TABLE_KINDS.map(k => k.name).join(', ')}`)
  })
  return sel
}

async function import_set(src, sel, set) {
  const records = []
  const tables = []
  let device = null
  const set_sel = { ...sel }
  for (const k of ['moe_distributions', 'moe_max_gpus', 'moe_shapes', 'moe_int4'])
    if (k in set)
      set_sel[k] = set[k]
  for (const kind of TABLE_KINDS) {
    if (set.tables && !set.tables.includes(kind.name))
      continue
    const rel = `${set.gpu}/${kind.file.replace('{fw}', set.framework).replace('{ver}', set.version)}`
    if (!src.exists(rel))
      continue
    const rows = await src.rows(rel)
    const converted = []
    rows.forEach(row => {
      check_columns(row, kind, DATA_PREFIX + rel)
      const ms = Number(row.latency)
      const r = kind.record(row, set_sel, set.fp8 ?? [])
      if (!r || !(ms > 0))
        return
      device ??= row.device
      r.seconds = round4(ms / 1e3)
      converted.push(r)
    })
    const kept = keep_fastest(converted, { each_kernel: kind.name === 'moe' && set.moe_each_kernel === true })
    tables.push({ rel, rows: rows.length, kept: kept.length })
    records.push(...kept)
  }
  if (records.length === 0)
    throw new InputError(`${DATA_PREFIX}${set.gpu}/*/${set.framework}/${set.version}`, 'sets', 'no table with importable rows',
      'check the GPU, framework and version folder names at this commit')
  const doc = {
    format: 'moesim-op-bench-1',
    source: `aiconfigurator ${REPO_NAME} ${DATA_PREFIX}${set.gpu}@${src.commit} (${set.framework}, ${set.version})`,
    system: { gpu: device ?? set.gpu, date: src.date },
    records: sort_records(records),
  }
  const tag = set.file_tag ? `.${set.file_tag}` : ''
  return { name: `${set.gpu}.${set.framework}-${set.version}${tag}.json.gz`, doc, tables }
}

function write_all(files) {
  for (const f of files) {
    fs.mkdirSync(path.dirname(f.path), { recursive: true })
    fs.writeFileSync(f.path + '.tmp', f.bytes)
  }
  for (const f of files)
    fs.renameSync(f.path + '.tmp', f.path)
}

async function main() {
  const args = parse_args(process.argv.slice(2))
  const sel = load_selection(args.selection)
  const src = new AicSource(args.repo, args.commit)
  const files = []
  for (const set of sel.sets) {
    const { name, doc, tables } = await import_set(src, sel, set)
    const bytes = gzip(serialise(doc))
    files.push({ path: path.join(args['out-dir'], name), bytes })
    for (const t of tables)
      console.error(`aic-import: ${t.rel}: ${t.rows} rows, ${t.kept} records`)
    console.error(`aic-import: ${name}: ${doc.records.length} records, ${bytes.length} bytes`)
  }
  if (sel.nccl) {
    const text = await nccl_csv(src, sel.nccl, REPO_NAME)
    files.push({ path: args['nccl-out'], bytes: Buffer.from(text, 'utf8') })
    console.error(`aic-import: ${path.relative(ROOT, args['nccl-out'])}: ${text.split('\n').length} lines`)
  }
  write_all(files)
}

main().catch(e => {
  if (e instanceof InputError) {
    console.error(`aic-import: ${e.message}`)
    process.exit(2)
  }
  console.error(e)
  process.exit(1)
})
