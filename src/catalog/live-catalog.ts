import type { LiveConfig } from "../config/live-config";
import type { Logger } from "../lib/log";
import { Catalog } from "./catalog";
import { Discovery } from "./discovery";

/**
 * Holds the running catalog: the config's models plus what discovery found, rebuilt and swapped
 * whole whenever either changes, and told to whoever follows it (target state, health checks).
 */
export class LiveCatalog {
  private snapshot: Catalog;
  private readonly discovery: Discovery;
  private readonly listeners: ((catalog: Catalog) => void)[] = [];

  constructor(
    private readonly configs: LiveConfig,
    log: Logger,
  ) {
    this.discovery = new Discovery(log, () => this.rebuild());
    this.snapshot = this.rebuild();
    configs.onChange(() => this.follow());
  }

  get current(): Catalog {
    return this.snapshot;
  }

  /**
   * Serves the current config's models at once, then lists every discovery source (awaited). The
   * lists of sources that changed are dropped first, so they are not served under the new config.
   */
  async follow(): Promise<void> {
    const listed = this.discovery.sync(this.configs.current.sources);
    this.rebuild();
    await listed;
  }

  /** Called with every new catalog, from the next rebuild on. */
  onChange(listener: (catalog: Catalog) => void): void {
    this.listeners.push(listener);
  }

  stop(): void {
    this.discovery.stop();
  }

  private rebuild(): Catalog {
    this.snapshot = new Catalog(this.configs.current, this.discovery.lists);
    for (const listener of this.listeners) listener(this.snapshot);
    return this.snapshot;
  }
}
