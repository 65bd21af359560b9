// Where AIConfigurator's tables come from: a checkout (work tree) or a bare mirror of
// ai-dynamo/aiconfigurator, read at one commit. Every read names the file it came from, so a
// missing table is one line with the path and the fix.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { parquetReadObjects } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'
import { InputError } from './errors.mjs'

export const DATA_PREFIX = 'aic-core/src/aiconfigurator_core/systems/data/'

export class AicSource {
  // repo: a work tree of ai-dynamo/aiconfigurator or a bare git directory; commit: a revision
  // (only for git reads; a work tree is read as it is on disk and must be at that commit).
  constructor(repo, commit) {
    if (!fs.existsSync(repo))
      throw new InputError(repo, '--repo', 'no such directory', 'pass a checkout or bare mirror of ai-dynamo/aiconfigurator')
    this.repo = repo
    this.worktree = fs.existsSync(path.join(repo, DATA_PREFIX))
    this.commit = this.git(['rev-parse', '--verify', `${commit}^{commit}`], '--commit').toString().trim()
    this.date = this.git(['show', '-s', '--format=%cs', this.commit], '--commit').toString().trim()
  }

  git(args, key) {
    try {
      return execFileSync('git', ['-C', this.repo, ...args], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] })
    } catch (e) {
      throw new InputError(this.repo, key, `git ${args.join(' ')} failed: ${String(e.stderr || e.message).trim().split('\n')[0]}`,
        'pass a git checkout or bare mirror of ai-dynamo/aiconfigurator and a commit it contains')
    }
  }

  // Lists the relative paths (below DATA_PREFIX) of the tables at the commit.
  list(dir) {
    const out = this.git(['ls-tree', '-r', '--name-only', this.commit, DATA_PREFIX + dir], '--repo').toString()
    return out.split('\n').filter(p => p.endsWith('.parquet')).map(p => p.slice(DATA_PREFIX.length)).sort()
  }

  exists(rel) {
    if (this.worktree)
      return fs.existsSync(path.join(this.repo, DATA_PREFIX, rel))
    try {
      execFileSync('git', ['-C', this.repo, 'cat-file', '-e', `${this.commit}:${DATA_PREFIX}${rel}`], { stdio: 'ignore' })
      return true
    } catch {
      return false
    }
  }

  // Reads one parquet table (path relative to DATA_PREFIX) into row objects.
  async rows(rel) {
    let buf
    if (this.worktree)
      buf = fs.readFileSync(path.join(this.repo, DATA_PREFIX, rel))
    else
      buf = this.git(['show', `${this.commit}:${DATA_PREFIX}${rel}`], '--repo')
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)
    try {
      return await parquetReadObjects({ file: ab, compressors })
    } catch (e) {
      throw new InputError(DATA_PREFIX + rel, 'parquet', `cannot decode: ${e.message}`, 'check the commit holds this table as parquet')
    }
  }
}
