/**
 * Upkeep of the embedded database.
 *
 * PGlite runs PostgreSQL in single-user mode, where autovacuum never runs. Left alone:
 * - space freed by DELETE (expired session events, device codes, OAuth states) or by UPDATE
 *   (every turn touches its session) is never handed back: only VACUUM records it in the free
 *   space map, so the tables grow for good, however little they hold;
 * - the planner has no statistics (only ANALYZE gathers them) and plans every query on default
 *   estimates.
 *
 * So the gateway does what autovacuum would, with autovacuum's thresholds: every so often, once
 * no request came in for a while, each table with enough changed rows gets VACUUM (ANALYZE), or
 * ANALYZE, one statement at a time (requests arriving meanwhile wait for one statement at most).
 * A PostgreSQL server runs autovacuum itself: nothing is done there.
 */
import type {Logger} from '../../core/log.js'
import type {Sql, Store} from './types.js'

/** Default time between two passes. */
export const UPKEEP_EVERY_MS = 10 * 60 * 1000
/** Default quiet time (no request started) a pass waits for. */
export const UPKEEP_QUIET_MS = 5_000
/** How often a pass that is due looks again for a quiet moment. */
const RETRY_MS = 15_000
/** The first pass comes sooner: a data dir may come from a gateway that never had upkeep. */
const FIRST_MS = 60_000

/** One table's counters from pg_stat_user_tables. */
export interface TableStats {
  table: string
  live: number
  dead: number
  modifiedSinceAnalyze: number
  insertedSinceVacuum: number
}

export type UpkeepAction = 'vacuum' | 'analyze'

/**
 * What a table needs, by autovacuum's default rules: VACUUM once dead rows exceed 50 + 20 % of
 * the live ones (or inserted rows since the last vacuum 1000 + 20 %), ANALYZE once changed rows
 * exceed 50 + 10 %.
 */
export function upkeepFor(stats: TableStats): UpkeepAction | undefined {
  if (stats.dead > 50 + 0.2 * stats.live || stats.insertedSinceVacuum > 1000 + 0.2 * stats.live) return 'vacuum'
  if (stats.modifiedSinceAnalyze > 50 + 0.1 * stats.live) return 'analyze'
  return undefined
}

export interface UpkeepDone {
  table: string
  action: UpkeepAction
  ms: number
}

/** The tables of the current schema that need upkeep now, with what each needs. */
async function dueTables(sql: Sql): Promise<{stats: TableStats; action: UpkeepAction}[]> {
  // The counters of the last statements reach the view only once flushed (at most once a
  // second, at the end of a statement): this statement forces the flush for the next one.
  await sql.query('SELECT pg_stat_force_next_flush()')
  const rows = await sql.query<Record<string, unknown>>(
    `SELECT relname, n_live_tup, n_dead_tup, n_mod_since_analyze, n_ins_since_vacuum
     FROM pg_stat_user_tables WHERE schemaname = current_schema() ORDER BY relname`,
  )
  const due: {stats: TableStats; action: UpkeepAction}[] = []
  for (const r of rows) {
    const stats: TableStats = {
      table: String(r.relname),
      live: Number(r.n_live_tup),
      dead: Number(r.n_dead_tup),
      modifiedSinceAnalyze: Number(r.n_mod_since_analyze),
      insertedSinceVacuum: Number(r.n_ins_since_vacuum),
    }
    const action = upkeepFor(stats)
    if (action) due.push({stats, action})
  }
  return due
}

/** Quote an identifier (table names come from the catalog, but never trust a name in SQL). */
function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/**
 * One pass: VACUUM (ANALYZE) or ANALYZE each table that needs it, until `stopped()` says to
 * stop (checked between tables: a gateway shutting down waits for one statement at most).
 * Returns what was done.
 */
export async function runUpkeep(sql: Sql, stopped: () => boolean = () => false): Promise<UpkeepDone[]> {
  const done: UpkeepDone[] = []
  for (const {stats, action} of await dueTables(sql)) {
    if (stopped()) break
    const started = performance.now()
    await sql.query(action === 'vacuum' ? `VACUUM (ANALYZE) ${ident(stats.table)}` : `ANALYZE ${ident(stats.table)}`)
    done.push({table: stats.table, action, ms: performance.now() - started})
  }
  return done
}

export interface UpkeepOptions {
  /** Time between two passes (default UPKEEP_EVERY_MS). */
  everyMs?: number
  /** A due pass waits until no request started for this long (default UPKEEP_QUIET_MS). */
  quietMs?: number
  /** When the last request started (performance.now()), undefined before the first one. */
  lastRequestAt: () => number | undefined
  log: Logger
}

export interface Upkeep {
  /** Stop the schedule; resolves once a pass under way is over. */
  stop(): Promise<void>
}

/** Whether a due pass may start now: no request started within `quietMs`. */
export function isQuiet(now: number, lastRequestAt: number | undefined, quietMs: number): boolean {
  return lastRequestAt === undefined || now - lastRequestAt >= quietMs
}

/**
 * Schedule the upkeep of an embedded store (undefined for a PostgreSQL server: autovacuum's
 * job). The timers do not keep the process alive.
 */
export function startUpkeep(store: Store, options: UpkeepOptions): Upkeep | undefined {
  if (store.kind !== 'pglite') return undefined
  const everyMs = options.everyMs ?? UPKEEP_EVERY_MS
  const quietMs = options.quietMs ?? UPKEEP_QUIET_MS
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let stopped = false

  const schedule = (ms: number) => {
    if (stopped) return
    timer = setTimeout(tick, ms)
    timer.unref()
  }
  const tick = () => {
    timer = undefined
    if (!isQuiet(performance.now(), options.lastRequestAt(), quietMs)) {
      schedule(Math.min(RETRY_MS, everyMs))
      return
    }
    running = runUpkeep(store.sql, () => stopped)
      .then((done) => {
        for (const d of done) options.log('debug', `database upkeep: ${d.action === 'vacuum' ? 'VACUUM (ANALYZE)' : 'ANALYZE'} ${d.table} (${Math.round(d.ms)} ms)`)
      })
      .catch((err) => options.log('warn', `database upkeep failed: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => {
        running = undefined
        schedule(everyMs)
      })
  }
  schedule(Math.min(FIRST_MS, everyMs))
  return {
    async stop() {
      stopped = true
      clearTimeout(timer)
      await running
    },
  }
}
