/**
 * When a gateway is ready: `/health` answers 200 only once every registered boot step is done
 * (503 `{"status":"starting"}` before). The gateway registers its own step (store open,
 * migrated, bootstrapped, routes mounted); whoever boots it adds theirs BEFORE the boot starts
 * (`lobu run`: the CLI token stored, the auto-apply done), so that no step can be added after
 * `/health` has said ready.
 *
 *   const readiness = new Readiness()
 *   const tokenStored = readiness.add('cli token')
 *   const gw = await startGateway({…, readiness})
 *   …; tokenStored()          // /health turns 200 when the last pending step is done
 */
export class Readiness {
  private readonly pending = new Set<string>()
  private readonly waiters: Array<() => void> = []

  /** Register a step; returns the function that marks it done (idempotent). */
  add(name: string): () => void {
    let n = 1
    let key = name
    while (this.pending.has(key)) key = `${name} #${++n}`
    this.pending.add(key)
    return () => {
      if (!this.pending.delete(key)) return
      if (this.pending.size === 0) for (const w of this.waiters.splice(0)) w()
    }
  }

  /** True once every registered step is done. */
  get ready(): boolean {
    return this.pending.size === 0
  }

  /** The steps still pending, in the order they were added. */
  get waitingFor(): string[] {
    return [...this.pending]
  }

  /** Resolves once ready. */
  whenReady(): Promise<void> {
    return this.ready ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve))
  }
}
