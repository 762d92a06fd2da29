// What every mock backend of the suite shares: a Bun server on an ephemeral port of 127.0.0.1 that
// records what it received and answers with a reply the test scripts.

export abstract class RecordingServer<Recorded, Script> {
  readonly requests: Recorded[] = [];
  /** The reply to every following request, until `reset`; null: the mock's default. */
  protected script: Script | null = null;
  private server: ReturnType<typeof Bun.serve> | null = null;

  constructor(readonly name: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get port(): number {
    if (!this.server) throw new Error(`mock ${this.name} is not started`);
    return this.server.port!;
  }

  get last(): Recorded {
    const last = this.requests.at(-1);
    if (!last) throw new Error(`mock ${this.name} received no request`);
    return last;
  }

  start(): this {
    this.server = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 0, fetch: (request) => this.handle(request) });
    return this;
  }

  /** Scripts the reply to every following request (until `reset`). */
  willReply(script: Script): this {
    this.script = script;
    return this;
  }

  /** Forgets the recorded requests and the script. */
  reset(): void {
    this.requests.length = 0;
    this.script = null;
  }

  async stop(): Promise<void> {
    this.reset();
    await this.server?.stop(true);
    this.server = null;
  }

  protected abstract handle(request: Request): Promise<Response>;
}
