// The status page (`GET /`) and its data (`GET /status.json`): the JSON's shape and that its
// counters follow the traffic; the guard (admin key, or loopback when none is set) while the page
// itself stays open; and the page in a real headless Chromium driven by puppeteer-core: key form,
// every model and target, live counters, the usage table, a phone-sized layout, screenshots.
//
// Chromium is Debian's `chromium` (`make test` installs it), or the one CHROMIUM_PATH names;
// without it the browser tests fail, they never skip.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { chatBody, postJson } from "./support/http";
import { defaultCompletion, reply, startMock, type MockBackend, type RecordedRequest } from "./support/mock-backend";
import { ALPHA_KEY, BRAVO_KEY, closedPort, makeTempDir, removeTempDirs, startProxy, type ProxyHandle } from "./support/proxy";

/** What the functions that run inside the page use: this project's TypeScript has no DOM library. */
declare const document: any, window: any, getComputedStyle: any;

const ADMIN_KEY = "status-admin-key-0123456789-SECRET";
const AUTH = { authorization: `Bearer ${ADMIN_KEY}` };
/** Shown as text on the page, never parsed as HTML. */
const HOSTILE_NAME = `Duo <img src=x onerror="window.__xss=1"> & "co"`;
const CHROMIUM = process.env.CHROMIUM_PATH ?? Bun.which("chromium") ?? Bun.which("chromium-browser") ?? "/usr/bin/chromium";
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

let alpha: MockBackend;
let bravo: MockBackend;
/** Admin key set, usage on. */
let proxy: ProxyHandle;
/** No admin key (loopback only), usage off. */
let open: ProxyHandle;
let browser: Browser | null = null;
let launchError: unknown = null;
/** What the pages threw; each browser test ends expecting none. */
const pageErrors: string[] = [];

/** Alpha fails every request for duo's target "a" with a 500 and answers everything else. */
function alphaScript(request: RecordedRequest) {
  const model = request.json().model;
  return model === "duo-a" ? reply.json({ error: { message: "boom" } }, { status: 500 }) : reply.json(defaultCompletion("alpha", model));
}

function config(extra: Record<string, unknown>) {
  return {
    endpoints: {
      duo: {
        displayName: HOSTILE_NAME,
        targets: [
          { name: "a", url: alpha.url, apiKey: ALPHA_KEY, actualModelName: "duo-a" },
          { name: "b", url: bravo.url, apiKey: BRAVO_KEY, actualModelName: "duo-b" },
        ],
        strategy: "round-robin",
        retry: { attempts: 2, backoffMs: 0 },
        cooldown: { failures: 1, seconds: 600 },
      },
      solo: { displayName: "Solo (Alpha)", url: alpha.url, apiKey: ALPHA_KEY, actualModelName: "solo-actual" },
    },
    ...extra,
  };
}

beforeAll(async () => {
  alpha = startMock("alpha");
  bravo = startMock("bravo");
  proxy = await startProxy(config({ adminKey: ADMIN_KEY }), { label: "status proxy" });
  open = await startProxy(config({ usage: { enabled: false } }), { label: "open status proxy" });
  try {
    if (!existsSync(CHROMIUM))
      throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium package (make test does when it is missing) or set CHROMIUM_PATH`);
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      pipe: true,
      // Chromium refuses to run as root inside its sandbox.
      args: [...(process.getuid?.() === 0 ? ["--no-sandbox"] : []), "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
    });
  } catch (error) {
    launchError = error;
  }
}, 60_000);

beforeEach(() => {
  pageErrors.length = 0;
  alpha.reset();
  bravo.reset();
  alpha.willReply(alphaScript);
});

afterAll(async () => {
  await browser?.close();
  await proxy.stop();
  await open.stop();
  await Promise.all([alpha.stop(), bravo.stop()]);
  removeTempDirs();
});

/** The running browser; a clear failure (never a skip) when Chromium is missing or did not start. */
function chromium(): Browser {
  if (!browser) throw new Error(`headless Chromium is required for the status page tests and did not start: ${String(launchError)}`);
  return browser;
}

async function status(target = proxy, headers: Record<string, string> = AUTH) {
  const response = await fetch(target.url("/status.json"), { headers });
  const text = await response.text();
  expect({ status: response.status, text }).toMatchObject({ status: 200 });
  return JSON.parse(text);
}

const modelOf = (report: any, id: string) => report.models.find((model: any) => model.id === id);
const targetOf = (report: any, id: string, name: string) => modelOf(report, id).targets.find((target: any) => target.name === name);

/** Sends chat requests one after another and waits until the proxy has ended each one (its access-log line). */
async function send(target: ProxyHandle, model: string, count = 1): Promise<number[]> {
  const ids: string[] = [];
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const response = await postJson(target.url("/v1/chat/completions"), chatBody(model));
    await response.text();
    statuses.push(response.status);
    ids.push(response.headers.get("x-request-id")!);
  }
  const lines = target.log.accessLines;
  await target.log.until(() => ids.every((id) => lines.some((line) => line.includes(id))), 5_000, `the access-log lines of ${ids.join(", ")}`);
  return statuses;
}

describe("GET / (the page)", () => {
  test("is open, holds no data and no key, and allows no script or style but its own", async () => {
    const response = await fetch(proxy.url("/"));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const policy = response.headers.get("content-security-policy") ?? "";
    expect(policy).toContain("default-src 'none'");
    expect(policy).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
    expect(policy).toContain("connect-src 'self'");
    const html = await response.text();
    expect(html).toStartWith("<!doctype html>");
    for (const secret of [ADMIN_KEY, ALPHA_KEY, BRAVO_KEY, alpha.url, bravo.url, "solo", "Duo"]) expect(html).not.toContain(secret);
    // nothing from elsewhere: no http(s) URL in a src or href
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
  });

  test("the browser's /favicon.ico is an empty 204, not an error about a missing model", async () => {
    const response = await fetch(open.url("/favicon.ico"));
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
  });

  test("the CSP hashes match the page's inline script and style, so they run", async () => {
    const response = await fetch(proxy.url("/"));
    const html = await response.text();
    const policy = response.headers.get("content-security-policy")!;
    const hash = (text: string) => `'sha256-${new Bun.CryptoHasher("sha256").update(text).digest("base64")}'`;
    // One script and one style, each allowed by its hash and nothing else.
    const bodies = (tag: string) => [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))].map((match) => match[1]!);
    expect(bodies("script").length).toBe(1);
    expect(bodies("style").length).toBe(1);
    expect(policy).toContain(`script-src ${hash(bodies("script")[0]!)};`);
    expect(policy).toContain(`style-src ${hash(bodies("style")[0]!)};`);
  });
});

describe("GET /status.json", () => {
  test("needs the admin key when one is set: 401 without it or with a wrong one", async () => {
    for (const headers of [{}, { authorization: "Bearer wrong-key" }, { authorization: `Bearer ${ADMIN_KEY}x` }] as Record<string, string>[]) {
      const response = await fetch(proxy.url("/status.json"), { headers });
      expect(response.status).toBe(401);
      const body = await response.json();
      expect(body.error.code).toBe("invalid_admin_key");
      expect(JSON.stringify(body)).not.toContain("solo");
    }
  });

  test("without an admin key it answers a loopback client", async () => {
    const report = await status(open, {});
    expect(report.usage).toEqual({ enabled: false });
  });

  test("has every model and target with state and figures (here before any traffic: all zero)", async () => {
    const response = await fetch(open.url("/status.json"));
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(response.headers.get("cache-control")).toBe("no-store");
    const report = await response.json();
    const idle = { requests5m: 0, errors5m: 0, ttfbP50Ms: null, ttfbP95Ms: null };
    const target = (name: string) => ({ name, state: "up", inFlight: 0, ewmaTtfbMs: null, consecutiveFailures: 0, cooldownUntil: null, ...idle });
    const model = (id: string, displayName: string, targets: string[]) => ({
      id,
      displayName,
      inFlight: 0,
      ...idle,
      tokensToday: { prompt: 0, completion: 0 },
      targets: targets.map(target),
    });
    expect(report).toEqual({
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      uptimeSeconds: expect.any(Number),
      time: expect.any(String),
      status: "ok",
      windowSeconds: 300,
      inFlight: 0,
      usage: { enabled: false },
      prices: {
        builtIn: true,
        source: "@pydantic/genai-prices",
        version: expect.stringMatching(/^\d+\.\d+\.\d+/),
        date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      },
      limits: [],
      models: [model("duo", HOSTILE_NAME, ["a", "b"]), model("solo", "Solo (Alpha)", ["solo#0"])],
    });
    expect(report.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(Math.abs(Date.parse(report.time) - Date.now())).toBeLessThan(60_000);
  });

  test("never shows a key or a URL, even after traffic", async () => {
    await send(proxy, "solo");
    const response = await fetch(proxy.url("/status.json"), { headers: AUTH });
    const text = await response.text();
    expect(JSON.parse(text).usage).toEqual({ enabled: true });
    for (const secret of [ADMIN_KEY, ALPHA_KEY, BRAVO_KEY, alpha.url, bravo.url, `:${alpha.port}`, `:${bravo.port}`, "http"])
      expect(text).not.toContain(secret);
  });

  test("its counters follow the traffic: requests, errors, time to first byte, tokens, target state", async () => {
    const before = await status();
    const soloBefore = modelOf(before, "solo");
    const soloTarget = targetOf(before, "solo", "solo#0");

    expect(await send(proxy, "solo", 3)).toEqual([200, 200, 200]); // each reports 3 prompt + 3 completion tokens
    alpha.willReply(reply.json({ error: { message: "down" } }, { status: 500 }));
    expect(await send(proxy, "solo")).toEqual([500]);
    alpha.willReply(alphaScript);

    const after = await status();
    const solo = modelOf(after, "solo");
    expect(solo.requests5m - soloBefore.requests5m).toBe(4);
    expect(solo.errors5m - soloBefore.errors5m).toBe(1);
    expect(solo.tokensToday.prompt - soloBefore.tokensToday.prompt).toBe(9);
    expect(solo.tokensToday.completion - soloBefore.tokensToday.completion).toBe(9);
    expect(solo.ttfbP50Ms).toBeGreaterThan(0);
    expect(solo.ttfbP95Ms).toBeGreaterThanOrEqual(solo.ttfbP50Ms);
    const target = targetOf(after, "solo", "solo#0");
    expect(target.requests5m - soloTarget.requests5m).toBe(4);
    expect(target.errors5m - soloTarget.errors5m).toBe(1);
    expect(target.ttfbP50Ms).toBeGreaterThan(0);
    expect(target.ewmaTtfbMs).toBeGreaterThan(0);
  });

  test("a failing target shows its errors and its cool-down while the model still serves", async () => {
    const before = await status();
    // Round robin: whichever request lands on "a" first fails there (500), cools it down and is retried on "b".
    expect(await send(proxy, "duo", 2)).toEqual([200, 200]);
    const after = await status();
    const delta = (id: string, name: string | null, field: string) =>
      name === null ? modelOf(after, id)[field] - modelOf(before, id)[field] : targetOf(after, id, name)[field] - targetOf(before, id, name)[field];
    expect([delta("duo", null, "requests5m"), delta("duo", null, "errors5m")]).toEqual([2, 0]);
    expect([delta("duo", "a", "requests5m"), delta("duo", "a", "errors5m")]).toEqual([1, 1]);
    expect([delta("duo", "b", "requests5m"), delta("duo", "b", "errors5m")]).toEqual([2, 0]);
    const a = targetOf(after, "duo", "a");
    expect(a.state).toBe("cooling");
    expect(Date.parse(a.cooldownUntil)).toBeGreaterThan(Date.now());
    expect(a.ttfbP50Ms).toBeNull(); // a failed try is no latency sample
    expect(targetOf(after, "duo", "b").state).toBe("up");
    expect(after.status).toBe("ok"); // b still serves
  });
});

// ---------------------------------------------------------------------------------------------
// In a real browser

async function newPage(width = 1280, height = 900): Promise<Page> {
  const page = await chromium().newPage();
  await page.setViewport({ width, height });
  page.on("pageerror", (error) => void pageErrors.push(String(error)));
  return page;
}

/** Waits (bounded) until the element's text is `want`; the failure names what it saw instead. */
async function waitText(page: Page, selector: string, want: string, label: string, timeout = 10_000): Promise<void> {
  try {
    await page.waitForFunction(
      (sel: string, text: string) => document.querySelector(sel)?.textContent === text,
      { timeout, polling: "mutation" },
      selector,
      want,
    );
  } catch (error) {
    const seen = await page.$eval(selector, (node) => node.textContent).catch(() => "(no such element)");
    throw new Error(`${label}: waited ${timeout} ms for ${JSON.stringify(want)} in ${selector}, saw ${JSON.stringify(seen)} (${String(error)})`);
  }
}

const text = (page: Page, selector: string) => page.$eval(selector, (node) => node.textContent ?? "");

/** { model id: [target names] } as the page shows them. */
const shownTargets = (page: Page) =>
  page.$$eval("[data-model]", (cards) =>
    Object.fromEntries(
      cards.map((card) => [card.getAttribute("data-model"), [...card.querySelectorAll("tr[data-target]")].map((row) => row.getAttribute("data-target"))]),
    ),
  );

async function expectPng(path: string): Promise<void> {
  const bytes = readFileSync(path);
  expect(bytes.length).toBeGreaterThan(1000);
  expect([...bytes.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
}

describe("the page in headless Chromium", () => {
  test("asks for the admin key once, shows every model and target, and its counters move with the traffic", async () => {
    const page = await newPage();
    const usageUrls: string[] = [];
    page.on("request", (request) => {
      if (new URL(request.url()).pathname === "/usage") usageUrls.push(request.url());
    });
    await page.goto(proxy.url("/"));

    // a wrong key is refused and the form asks again
    await page.waitForSelector("#key", { visible: true, timeout: 10_000 });
    await page.type("#key", "not-the-admin-key");
    await page.click("#login-form button[type=submit]");
    await waitText(page, "#login-error", "That key was refused. Try again.", "the refusal of a wrong key");
    expect(await page.$eval("#login-error", (node) => node.hasAttribute("hidden"))).toBe(false);

    // one no header can carry is refused at once, with the reason (the browser would refuse to send it)
    await page.type("#key", "ключ-0123456789");
    await page.click("#login-form button[type=submit]");
    await waitText(
      page,
      "#login-error",
      "An admin key holds visible ASCII characters only (no spaces, no other letters). Try again.",
      "the refusal of a non-ASCII key",
    );

    await page.type("#key", ADMIN_KEY);
    await page.click("#login-form button[type=submit]");
    await page.waitForSelector("[data-model=solo]", { visible: true, timeout: 10_000 });
    expect(await page.$eval("#login", (node) => node.hasAttribute("hidden"))).toBe(true);

    // every configured model with every target, as /status.json lists them
    const report = await status();
    const expected = Object.fromEntries(report.models.map((model: any) => [model.id, model.targets.map((target: any) => target.name)]));
    expect(expected).toEqual({ duo: ["a", "b"], solo: ["solo#0"] });
    expect(await shownTargets(page)).toEqual(expected);
    expect(await text(page, '[data-model="duo"] [data-target="a"] [data-field="state"]')).toBe(targetOf(report, "duo", "a").state);

    // data is text, never markup; no key and no URL on the page
    expect(await text(page, '[data-model="duo"] h3')).toBe(HOSTILE_NAME);
    expect(await page.$('[data-model="duo"] img')).toBeNull();
    expect(await page.evaluate(() => (window as any).__xss)).toBeUndefined();
    const shown = await page.evaluate(() => document.body.innerText);
    for (const secret of [ADMIN_KEY, ALPHA_KEY, BRAVO_KEY, alpha.url, bravo.url]) expect(shown).not.toContain(secret);

    // traffic: the page's next refresh shows the new counts
    const requestsBefore = await text(page, '[data-model="solo"] dd[data-field="requests5m"]');
    const soloBefore = modelOf(report, "solo").requests5m;
    expect(requestsBefore).toBe(String(soloBefore));
    await send(proxy, "solo", 2);
    await waitText(page, '[data-model="solo"] dd[data-field="requests5m"]', String(soloBefore + 2), "solo's requests after 2 more");
    await waitText(
      page,
      '[data-model="solo"] [data-target="solo#0"] [data-field="requests5m"]',
      String(targetOf(report, "solo", "solo#0").requests5m + 2),
      "solo#0's tries",
    );
    const tokens = modelOf(await status(), "solo").tokensToday;
    expect(await text(page, '[data-model="solo"] dd[data-field="tokensToday"]')).toBe(`${tokens.prompt} in · ${tokens.completion} out`);

    // the key is kept for the tab: a reload does not ask again
    await page.reload();
    await page.waitForSelector("[data-model=solo]", { visible: true, timeout: 10_000 });
    expect(await page.$eval("#login", (node) => node.hasAttribute("hidden"))).toBe(true);
    expect(await page.evaluate(() => sessionStorage.getItem("cm-proxy-admin-key"))).toBe(ADMIN_KEY);

    // the usage table, by model, once the rows are on disk
    await proxy.server.usage!.flush();
    await page.click('#groups button[data-group="model"]');
    await page.waitForSelector('#usage-rows tr[data-key="solo"]', { visible: true, timeout: 10_000 });
    const usage = await (await fetch(proxy.url("/usage?groupBy=model"), { headers: AUTH })).json();
    const soloUsage = usage.groups.find((group: any) => group.key === "solo");
    expect(await page.$$eval('#usage-rows tr[data-key="solo"] td', (cells) => cells.map((cell) => cell.textContent))).toEqual([
      "solo",
      String(soloUsage.requests),
      String(soloUsage.errors),
      String(soloUsage.promptTokens),
      String(soloUsage.completionTokens),
      String(soloUsage.totalTokens),
      "–", // solo-actual has no price: its cost is unknown, never $0
      expect.stringMatching(/ms$|s$/),
      expect.stringMatching(/ms$|s$/),
    ]);
    // the period buttons ask /usage for that period
    await page.click('#ranges button[data-range="7d"]');
    await page.waitForFunction(() => document.querySelector('#ranges button[data-range="7d"]')?.getAttribute("aria-pressed") === "true", { timeout: 5_000 });
    const sevenDays = usageUrls
      .map((url) => new URL(url))
      .find((url) => url.searchParams.get("groupBy") === "model" && Date.now() - Date.parse(url.searchParams.get("from")!) > 6.9 * 86_400_000);
    expect(sevenDays).toBeDefined();

    // a screenshot of what a person sees
    const shot = join(makeTempDir("status-shot"), "status-page.png");
    await page.screenshot({ path: shot, fullPage: true });
    await expectPng(shot);
    await page.close();
    expect(pageErrors).toEqual([]);
  }, 60_000);

  test("spend today and this month, a cost column, and requests, tokens and cost over time as inline SVG", async () => {
    // a priced model of its own: $3 in, $15 out per million; the mock reports 3 + 3 tokens an answer
    const priced = await startProxy(
      { endpoints: { priced: { url: alpha.url, apiKey: ALPHA_KEY, actualModelName: "priced-actual", price: { inputPerMTok: 3, outputPerMTok: 15 } } } },
      { label: "priced status proxy" },
    );
    try {
      await send(priced, "priced", 4);
      await priced.server.usage!.flush();
      const perRequest = (3 * 3 + 3 * 15) / 1e6;
      const hours = await (await fetch(priced.url(`/usage?groupBy=hour&from=${new Date(Date.now() - 864e5).toISOString()}`))).json();
      expect(hours.groups.reduce((sum: number, group: any) => sum + group.requests, 0)).toBe(4);
      expect(hours.groups.reduce((sum: number, group: any) => sum + group.costUsd, 0)).toBeCloseTo(4 * perRequest, 12);

      const page = await newPage();
      await page.goto(priced.url("/"));
      const spent = `$${(4 * perRequest).toPrecision(3)}`;
      await waitText(page, "#spend-today", spent, "today's spend");
      await waitText(page, "#spend-month", spent, "this month's spend");
      await page.click('#groups button[data-group="model"]');
      await page.waitForSelector('#usage-rows tr[data-key="priced"]', { visible: true, timeout: 10_000 });
      expect(await page.$eval('#usage-rows tr[data-key="priced"] td[data-label="Cost"]', (cell) => cell.textContent)).toBe(spent);

      // one bar per hour of the last 24; together they hold the 4 requests, then their tokens and cost
      await page.waitForSelector("#chart-panel:not([hidden])", { timeout: 10_000 });
      const bars = () => page.$$eval("#chart rect.bar", (rects) => rects.map((rect) => Number(rect.getAttribute("data-value"))));
      const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
      expect((await bars()).length).toBe(24);
      expect(sum(await bars())).toBe(4);
      await page.click('#series button[data-series="tokens"]');
      expect(sum(await bars())).toBe(4 * 6);
      await page.click('#series button[data-series="cost"]');
      expect(sum(await bars())).toBeCloseTo(4 * perRequest, 12);
      expect(await text(page, "#chart-caption")).toBe("Cost per hour, last 24 h (UTC)");
      // per day over 30 days
      await page.click('#ranges button[data-range="30d"]');
      await page.waitForFunction(() => document.querySelectorAll("#chart rect.bar").length === 30, { timeout: 10_000 });
      expect(sum(await bars())).toBeCloseTo(4 * perRequest, 12);
      await page.close();
      expect(pageErrors).toEqual([]);
    } finally {
      await priced.stop();
    }
  }, 60_000);

  test("fits a phone's width: no sideways scrolling, every figure still there", async () => {
    const page = await newPage(390, 844);
    await page.evaluateOnNewDocument((key: string) => sessionStorage.setItem("cm-proxy-admin-key", key), ADMIN_KEY);
    await page.goto(proxy.url("/"));
    await page.waitForSelector('[data-model="duo"] [data-target="b"]', { visible: true, timeout: 10_000 });
    const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, window: window.innerWidth }));
    expect(widths.page).toBeLessThanOrEqual(widths.window);
    // the target rows turn into labelled cards: the header row is hidden, the labels are not
    expect(await page.$eval('[data-model="duo"] thead', (node) => getComputedStyle(node).display)).toBe("none");
    expect(await page.$eval('[data-model="duo"] [data-target="b"] [data-field="requests5m"]', (node) => getComputedStyle(node, "::before").content)).toBe(
      '"Requests 5 min"',
    );
    const shot = join(makeTempDir("status-phone"), "phone.png");
    await page.screenshot({ path: shot, fullPage: true });
    await expectPng(shot);
    await page.close();
    expect(pageErrors).toEqual([]);
  }, 30_000);

  test("says plainly when usage is off, and when /usage answers an error", async () => {
    // no admin key: a loopback browser needs none, and the page never asks
    const page = await newPage();
    await page.goto(open.url("/"));
    await page.waitForSelector("[data-model=solo]", { visible: true, timeout: 10_000 });
    expect(await page.$eval("#login", (node) => node.hasAttribute("hidden"))).toBe(true);
    await page.waitForSelector("#usage-note:not([hidden])", { timeout: 10_000 });
    expect(await text(page, "#usage-note")).toContain("Usage accounting is off");
    expect(await page.$eval("#usage-panel", (node) => node.hasAttribute("hidden"))).toBe(true);
    await page.close();

    const failing = await newPage();
    await failing.evaluateOnNewDocument((key: string) => sessionStorage.setItem("cm-proxy-admin-key", key), ADMIN_KEY);
    await failing.setRequestInterception(true);
    failing.on("request", (request) => {
      if (new URL(request.url()).pathname !== "/usage") return void request.continue();
      void request.respond({ status: 500, contentType: "application/json", body: JSON.stringify({ error: { message: "the usage store is <b>on fire</b>" } }) });
    });
    await failing.goto(proxy.url("/"));
    await failing.waitForSelector("#usage-note:not([hidden])", { timeout: 10_000 });
    expect(await text(failing, "#usage-note")).toBe("Usage is unavailable: HTTP 500: the usage store is <b>on fire</b>");
    expect(await failing.$("#usage-note b")).toBeNull();
    // the rest of the page still works
    expect(await shownTargets(failing)).toEqual({ duo: ["a", "b"], solo: ["solo#0"] });
    await failing.close();
    expect(pageErrors).toEqual([]);
  }, 30_000);

  test("the limits table shows each budget's spend and what is left in dollars, beside a token limit", async () => {
    // solo costs $0.10 per token here: the mock's answer (3 + 3 tokens) costs $0.60.
    const priced = config({ usage: { enabled: false }, limits: { perModel: { solo: { usdPerDay: 2, usdPerMonth: 0.5, tokensPerDay: 1000 } } } });
    (priced.endpoints.solo as Record<string, unknown>).price = { inputPerMTok: 100_000, outputPerMTok: 100_000 };
    const budgeted = await startProxy(priced, { label: "budgets status proxy" });
    try {
      expect(await send(budgeted, "solo")).toEqual([200]);
      const page = await newPage(390, 844);
      await page.goto(budgeted.url("/"));
      await page.waitForSelector('#limits-rows tr[data-limit="usdPerDay"]', { visible: true, timeout: 10_000 });
      const rows = await page.$$eval("#limits-rows tr", (trs) => trs.map((tr: any) => [...tr.children].map((td: any) => td.textContent)));
      expect(rows.map((row) => row.slice(0, 4))).toEqual([
        ["model solo", "1,000 tokens / day", "6", "994"],
        ["model solo", "$2.00 / day (UTC)", "$0.60", "$1.40"],
        ["model solo", "$0.50 / month (UTC)", "$0.60", "$0.00"],
      ]);
      for (const row of rows) expect(row[4]).toMatch(/^in \d+ (d|h|min|s)/);
      // The spent month is marked like any limit with nothing left.
      expect(await page.$eval('#limits-rows tr[data-limit="usdPerMonth"]', (tr) => tr.className)).toContain("some");
      await page.close();
      expect(pageErrors).toEqual([]);
    } finally {
      await budgeted.stop();
    }
  }, 30_000);
});

describe("a store that is down", () => {
  test("the page says which one, not that a model has no usable target", async () => {
    const degraded = await startProxy(
      { ...config({ usage: { enabled: false } }), state: { redis: `redis://127.0.0.1:${closedPort()}` } },
      { label: "redis-down status proxy" },
    );
    const page = await chromium().newPage();
    try {
      await page.goto(degraded.url("/"));
      await page.waitForFunction(() => document.querySelector("#overall")?.textContent?.startsWith("Degraded"), { timeout: 15_000 });
      expect(await text(page, "#overall")).toBe("Degraded: Redis is unreachable");
    } finally {
      await page.close();
      await degraded.stop();
    }
  });
});

describe("a proxy that stops answering", () => {
  test("the page no longer says every model is served: its badge and dot turn to unreachable", async () => {
    const gone = await startProxy(config({ usage: { enabled: false } }), { label: "stopping status proxy" });
    const page = await newPage();
    try {
      await page.goto(gone.url("/"));
      await waitText(page, "#overall", "All models served", "the page's first state");
      await gone.stop();
      await page.waitForFunction(() => document.querySelector("#problem")?.hidden === false, { timeout: 15_000 });
      expect(await text(page, "#problem")).toStartWith("Cannot reach the proxy");
      expect(await text(page, "#overall")).toBe("Unreachable");
      expect(await page.$eval("#dot", (node) => node.className)).toBe("dot error");
      expect(pageErrors).toEqual([]);
    } finally {
      await page.close();
      await gone.stop();
    }
  }, 30_000);
});

describe("a page of another origin, in a browser on the proxy's machine", () => {
  test("cannot use the admin routes of a proxy without an admin key (it is a loopback client too); the proxy's own page can", async () => {
    const elsewhere = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => new Response("<html><body>another site</body></html>", { headers: { "content-type": "text/html" } }),
    });
    const page = await chromium().newPage();
    try {
      await page.goto(`http://localhost:${elsewhere.port}/`);
      const tried = await page.evaluate(async (base: string) => {
        const attempt = async (path: string, init?: RequestInit) => {
          try {
            const response = await fetch(base + path, init);
            return `${response.status} ${(await response.text()).includes("admin_local_only") ? "admin_local_only" : "other"}`;
          } catch {
            return "blocked";
          }
        };
        return {
          debug: await attempt("/debug"),
          status: await attempt("/status.json"),
          create: await attempt("/admin/keys", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "planted" }) }),
          // A "simple" request: no preflight, sent whatever the answer's CORS headers say.
          reload: await attempt("/reload", { method: "POST", mode: "no-cors" }),
        };
      }, open.server.url);
      expect(tried).toEqual({ debug: "403 admin_local_only", status: "403 admin_local_only", create: "403 admin_local_only", reload: expect.any(String) });
      expect(open.log.lines.filter((line) => line.includes("config reloaded"))).toEqual([]);

      // The proxy's own page, same origin, still reads its report.
      await page.goto(open.url("/"));
      const own = await page.evaluate(async () => (await fetch("/status.json")).status);
      expect(own).toBe(200);
    } finally {
      await page.close();
      elsewhere.stop(true);
    }
  });
});

describe("the Keys section in headless Chromium", () => {
  test("lists keys with spend, creates one (its secret shown once, with a copy button that copies it), blocks, unblocks and revokes it", async () => {
    // A proxy of its own: issuing a key closes a proxy, and the other tests send without one.
    const keyed = await startProxy(config({ adminKey: ADMIN_KEY }), { label: "keys status proxy" });
    const page = await newPage();
    try {
      await chromium().defaultBrowserContext().overridePermissions(keyed.url(""), ["clipboard-read", "clipboard-write", "clipboard-sanitized-write"]);
      page.on("dialog", (dialog) => void dialog.accept());
      await page.evaluateOnNewDocument((key: string) => sessionStorage.setItem("cm-proxy-admin-key", key), ADMIN_KEY);
      await page.goto(keyed.url("/"));
      await waitText(page, "#keys-rows td", "No client keys yet: the proxy is open to anyone who can reach it. Create one to close it.", "the empty list");

      await page.type("#key-name", HOSTILE_NAME);
      await page.type("#key-models", "solo, du*");
      await page.click("#key-form button[type=submit]");
      await page.waitForSelector("#key-secret:not([hidden])", { timeout: 10_000 });
      const secret = await text(page, "#key-secret-value");
      expect(secret).toMatch(/^sk-cm-[A-Za-z0-9_-]{43}$/);
      expect(await text(page, "#key-secret-name")).toBe(HOSTILE_NAME);
      await page.click("#key-copy");
      await waitText(page, "#key-copy", "Copied", "the copy button");
      expect(await page.evaluate(() => (globalThis as any).navigator.clipboard.readText())).toBe(secret);

      // The key works at once, for the models it was given.
      const send = (model: string) => postJson(keyed.url("/v1/chat/completions"), chatBody(model), { authorization: `Bearer ${secret}` });
      expect((await send("solo")).status).toBe(200);
      expect((await send("nothing")).status).toBe(404);
      const { data } = await (await fetch(keyed.url("/admin/keys"), { headers: AUTH })).json();
      const id = data[0].id as string;
      const row = `#keys-rows tr[data-key-id="${id}"]`;
      await page.waitForSelector(row, { timeout: 10_000 });
      expect(await text(page, `${row} td[data-label=Name]`)).toBe(HOSTILE_NAME);
      expect(await text(page, `${row} td[data-label=Models]`)).toBe("solo, du*");
      expect(await text(page, `${row} td[data-label=Key]`)).toBe(`${secret.slice(0, 10)}…`);
      expect(await page.evaluate(() => (window as any).__xss)).toBeUndefined();

      // Done: the secret leaves the page for good.
      await page.click("#key-secret-done");
      expect(await page.$eval("#key-secret", (node) => node.hasAttribute("hidden"))).toBe(true);
      expect(await page.content()).not.toContain(secret);

      await page.click(`${row} button[data-action=block]`);
      await page.waitForSelector(`${row}[data-status=blocked]`, { timeout: 10_000 });
      expect(await text(page, `${row} .badge`)).toBe("blocked");
      expect((await send("solo")).status).toBe(401);
      await page.click(`${row} button[data-action=unblock]`);
      await page.waitForSelector(`${row}[data-status=active]`, { timeout: 10_000 });
      expect((await send("solo")).status).toBe(200);
      await page.click(`${row} button[data-action=revoke]`);
      await page.waitForSelector(`${row}[data-status=revoked]`, { timeout: 10_000 });
      expect(await page.$$(`${row} button`)).toHaveLength(0);
      const refused = await send("solo");
      expect(refused.status).toBe(401);
      expect((await refused.json()).error.code).toBe("key_revoked");

      // A spend column for each key (the models here have no price: unknown, never a made-up 0).
      expect(await text(page, `${row} td[data-field=spend-today]`)).toBe("–");
      const shot = join(makeTempDir("status-keys"), "keys.png");
      await page.screenshot({ path: shot, fullPage: true });
      await expectPng(shot);
      expect(pageErrors).toEqual([]);
    } finally {
      await page.close();
      await keyed.stop();
    }
  }, 60_000);

  test("says plainly when usage is off: keys need the usage database", async () => {
    const page = await newPage();
    await page.goto(open.url("/"));
    await page.waitForSelector("#keys-note:not([hidden])", { timeout: 10_000 });
    expect(await text(page, "#keys-note")).toContain("usage.enabled is false");
    expect(await page.$eval("#keys-body", (node) => node.hasAttribute("hidden"))).toBe(true);
    await page.close();
    expect(pageErrors).toEqual([]);
  }, 30_000);
});
