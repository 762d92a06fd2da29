import type { ConfigStore } from "../config/live-config";
import type { Logger } from "../lib/log";
import type { HealthChecker } from "../targets/health-check";
import type { RuntimeRegistry } from "../targets/target-states";
import { Catalog } from "./catalog";
import { Discovery } from "./discovery";

/**
 * Holds the running catalog: the config's models plus what discovery found, rebuilt and swapped
 * whole whenever either changes. Each rebuild also tells the runtime registry which targets are
 * still served (their state carries over) and re-arms the active health checks.
 */
export class CatalogStore {
  private snapshot: Catalog;
  private readonly discovery: Discovery;

  constructor(
    private readonly configs: ConfigStore,
    private readonly registry: RuntimeRegistry,
    private readonly health: HealthChecker,
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

  stop(): void {
    this.discovery.stop();
    this.health.stop();
  }

  private rebuild(): Catalog {
    this.snapshot = new Catalog(this.configs.current, this.discovery.lists);
    this.registry.retain(this.snapshot.models.values());
    this.health.sync(this.snapshot.models.values());
    return this.snapshot;
  }
}
