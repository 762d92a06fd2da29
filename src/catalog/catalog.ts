import type { ClientKey } from "../access/clients";
import { forbiddenModel } from "../access/clients";
import type { ProxyConfig } from "../config/proxy-config";
import { invalidRequest, modelNotFound } from "../model/errors";
import { globMatches, isGlob } from "../model/glob";
import { discoveredModel, type Model } from "../model/model";

/** Backend model ids each discovery source listed last, by source id. */
export type DiscoveredLists = ReadonlyMap<string, readonly string[]>;

const OWNER = "cm-open-webui-proxy";

interface ModelEntry {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  name: string;
}

const modelList = (data: readonly ModelEntry[]) => JSON.stringify({ object: "list", data });

/** What one client key may see: its `/models` body and ids, rendered once per catalog. */
interface ClientView {
  readonly modelsJson: string;
  readonly ids: readonly string[];
}

/**
 * Every model a client can ask for, configured and discovered, in one immutable snapshot swapped
 * whole (like the config it was built from) when the config reloads or a discovery refresh
 * changes a list. Response bodies that only change with it are rendered here, off the hot path.
 */
export class Catalog {
  readonly models: ReadonlyMap<string, Model>;
  readonly ids: readonly string[];
  private readonly entries: ReadonlyMap<string, string>;
  /** Configured `aliases`: exact ids by lookup, then globs in config order. */
  private readonly aliases = new Map<string, Model>();
  private readonly aliasGlobs: { readonly glob: string; readonly model: Model }[] = [];
  private readonly everyone: ClientView;
  /** Per client key with `models`, rendered at its first request on this snapshot (issued keys come and go). */
  private readonly views = new WeakMap<ClientKey, ClientView>();
  private readonly entryList: readonly ModelEntry[];

  constructor(
    readonly config: ProxyConfig,
    discovered: DiscoveredLists = new Map(),
  ) {
    const models = new Map(config.models);
    for (const source of config.sources) {
      for (const backendId of discovered.get(source.id) ?? []) {
        const id = source.prefix + backendId;
        // A configured model always wins over a discovered one with the same id.
        if (models.has(id)) continue;
        const price = source.price ?? config.priceTable?.lookup(backendId) ?? null;
        models.set(id, discoveredModel(source.template, id, backendId, price));
      }
    }
    this.models = models;
    this.ids = [...models.keys()];
    for (const model of config.models.values()) {
      for (const alias of model.aliases ?? []) {
        if (isGlob(alias)) this.aliasGlobs.push({ glob: alias, model });
        else if (!models.has(alias) && !this.aliases.has(alias)) this.aliases.set(alias, model);
      }
    }
    const entries = [...models.values()].map(
      (model): ModelEntry => ({
        id: model.id,
        object: "model",
        created: config.createdAt,
        owned_by: OWNER,
        name: model.displayName,
      }),
    );
    this.entries = new Map(entries.map((entry) => [entry.id, JSON.stringify(entry)]));
    this.everyone = { modelsJson: modelList(entries), ids: this.ids };
    this.entryList = entries;
  }

  private view(client: ClientKey | null): ClientView {
    if (!client?.models) return this.everyone;
    let view = this.views.get(client);
    if (!view) {
      const visible = this.entryList.filter((entry) => client.models!.matches(entry.id));
      view = { modelsJson: modelList(visible), ids: visible.map((entry) => entry.id) };
      this.views.set(client, view);
    }
    return view;
  }

  /** The `/models` body for this client. */
  modelsJson(client: ClientKey | null): string {
    return this.view(client).modelsJson;
  }

  /** The `/models/{id}` body, once `resolve` admitted the id. */
  modelJson(id: string): string {
    return this.entries.get(id)!;
  }

  /**
   * The model a client asked for, or the error it gets instead: 400 without a model, 404 for an
   * unknown one (listing only the models this client may see), 403 for one its key may not use.
   * An id no model has may be an alias (exact first, then globs in config order); a client key's
   * `models` then decides on the model's own id.
   */
  resolve(model: unknown, client: ClientKey | null): Model {
    const found = this.find(model, client);
    this.checkAllowed(found, model as string, client);
    return found;
  }

  /** `resolve` without the key's permission: the model the id names, whoever asks (400, 404 as `resolve`). */
  find(model: unknown, client: ClientKey | null): Model {
    if (model !== undefined && model !== null && typeof model !== "string") {
      throw invalidRequest(`Invalid type for 'model': expected a string, got ${Array.isArray(model) ? "an array" : typeof model}`, "model", "invalid_type");
    }
    if (typeof model !== "string" || model === "") {
      throw invalidRequest("You must provide a model parameter", "model", "missing_model");
    }
    const found = this.models.get(model) ?? this.aliased(model);
    if (!found) throw modelNotFound(model, this.view(client).ids);
    return found;
  }

  /** The 403 for a model (named `asked`) the client's key may not use. */
  checkAllowed(model: Model, asked: string, client: ClientKey | null): void {
    if (client?.models && !client.models.matches(model.id)) throw forbiddenModel(asked);
  }

  private aliased(id: string): Model | undefined {
    return this.aliases.get(id) ?? this.aliasGlobs.find((alias) => globMatches(alias.glob, id))?.model;
  }

  /** A model's fallbacks that exist in this catalog, in their configured order. */
  fallbacksOf(model: Model): Model[] {
    const found: Model[] = [];
    for (const id of model.fallbacks) {
      const fallback = this.models.get(id);
      if (fallback && fallback !== model) found.push(fallback);
    }
    return found;
  }
}
