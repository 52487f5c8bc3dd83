// The chat widget in a real headless Chromium, against a running `fathom serve`.
//
// crates/fathom/tests/widget.rs starts the server (knowledge/ plus an article full of XSS
// payloads) and runs this file with:
//   FATHOM_E2E_BASE_URL        the gateway, e.g. http://127.0.0.1:18080 (serves / and /widget.js)
//   FATHOM_E2E_WORKSPACE       the workspace the demo page uses (default: acme)
//   FATHOM_E2E_ADMIN_KEY       that workspace's admin key (to check stored feedback)
//   FATHOM_E2E_INBOUND_SECRET  its helpdesk inbound secret (whsec_…), to sign agent replies
//   FATHOM_E2E_ALLOWED_PORT    a port whose http://localhost:<port> origin the workspace allows
//   FATHOM_E2E_ARTIFACTS       where screenshots go (default: target/e2e-artifacts)
//   FATHOM_E2E_CHROMIUM        the browser (default: /usr/bin/chromium)
// By hand: `node --test e2e/widget.test.mjs` with those set, against `fathom serve`.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { assertIconsPainted, assertNoEmojiText } from "./icons.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`set ${name} (see the top of e2e/widget.test.mjs)`);
  return value;
};
const BASE = env("FATHOM_E2E_BASE_URL").replace(/\/+$/, "");
const WORKSPACE = env("FATHOM_E2E_WORKSPACE", "acme");
const OTHER_WORKSPACE = env("FATHOM_E2E_OTHER_WORKSPACE", "globex");
const ADMIN_KEY = env("FATHOM_E2E_ADMIN_KEY");
const INBOUND_SECRET = env("FATHOM_E2E_INBOUND_SECRET");
const ALLOWED_PORT = Number(env("FATHOM_E2E_ALLOWED_PORT"));
const ARTIFACTS = path.resolve(env("FATHOM_E2E_ARTIFACTS", path.join(here, "..", "target", "e2e-artifacts")));
const CHROMIUM = env("FATHOM_E2E_CHROMIUM", "/usr/bin/chromium");
const WIDGET_FILE = path.join(here, "..", "crates", "gateway", "assets", "widget.js");
const XSS_MARK = "window.__xss";

const DESKTOP = { width: 1280, height: 800 };
const MOBILE = { width: 390, height: 844 };

let browser;
const servers = [];

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await hostSite(ALLOWED_PORT);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  for (const server of servers) server.close();
});

// --- helpers -------------------------------------------------------------------------------

/** A fresh browser profile (empty localStorage) with the fictional help center routed in,
 * unless `helpCenter` is false: with routing on, Playwright answers CORS preflights itself, so a
 * test of CORS must go without. */
async function newPage(viewport = DESKTOP, extra = {}, { helpCenter = true } = {}) {
  const context = await browser.newContext({ viewport, ...extra });
  if (helpCenter) await context.route("https://help.lumen.example/**", (route) =>
    route.fulfill({
      contentType: "text/html",
      body: `<!doctype html><title>Lumen Help: ${new URL(route.request().url()).pathname}</title><h1>Help article</h1>`,
    }));
  const page = await context.newPage();
  page.consoleLines = [];
  page.on("console", (message) => page.consoleLines.push(message.text()));
  page.on("pageerror", (error) => page.consoleLines.push("pageerror: " + error.message));
  // Any payload that runs sets window.__xss; it must stay undefined.
  await page.addInitScript(() => {
    window.__xss = undefined;
  });
  return page;
}

const widget = (page) => ({
  launcher: page.locator("fathom-chat .launcher"),
  panel: page.locator("fathom-chat .panel"),
  input: page.locator("fathom-chat textarea"),
  log: page.locator("fathom-chat .log"),
  bot: page.locator("fathom-chat .msg.bot[data-seq]"),
  agent: page.locator("fathom-chat .msg.agent"),
  banner: page.locator("fathom-chat .banner"),
  error: page.locator("fathom-chat .error"),
  person: page.locator("fathom-chat .person"),
});

async function openDemo(page, url = BASE + "/") {
  await page.goto(url);
  const w = widget(page);
  await w.launcher.click();
  await w.panel.waitFor({ state: "visible" });
  return w;
}

/** Ask, and wait for the bot's reply to land (the send button comes back). */
async function ask(page, text) {
  const w = widget(page);
  const before = await w.bot.count();
  await w.input.fill(text);
  await w.input.press("Enter");
  await page.locator("fathom-chat form button:not([disabled])").waitFor();
  await page.waitForFunction(
    (n) => document.querySelector("fathom-chat").shadowRoot.querySelectorAll(".msg.bot[data-seq]").length > n,
    before,
  );
  const seq = await w.bot.last().getAttribute("data-seq");
  return page.locator(`fathom-chat .msg[data-seq="${seq}"]`);
}

function session(page) {
  return page.evaluate(() => {
    const key = Object.keys(localStorage).find((k) => k.startsWith("fathom:"));
    return key ? JSON.parse(localStorage.getItem(key)) : null;
  });
}

async function api(method, route, { token, body, headers = {} } = {}) {
  const response = await fetch(BASE + route, {
    method,
    headers: {
      ...(token ? { Authorization: "Bearer " + token } : {}),
      ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
      ...headers,
    },
    body: typeof body === "string" ? body : body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: response.status, json, text, headers: response.headers };
}

/** An agent's reply as the helpdesk sends it: Standard Webhooks, signed with the inbound secret. */
function agentReply(conversationId, text, name = "Dana") {
  return helpdeskEvent("agent.message", { conversation_id: conversationId, text, agent: { name } });
}

async function helpdeskEvent(type, data) {
  const body = JSON.stringify({ type, workspace: WORKSPACE, data });
  const id = "msg_" + crypto.randomUUID();
  const timestamp = Math.floor(Date.now() / 1000);
  const key = Buffer.from(INBOUND_SECRET.replace(/^whsec_/, ""), "base64");
  const signature = crypto.createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
  const response = await api("POST", "/v1/helpdesk/standard/events", {
    body,
    headers: { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": "v1," + signature },
  });
  assert.equal(response.status, 200, response.text);
  return response.json;
}

/** A host page on another origin that installs the widget from the gateway, for the workspace
 * in its `?workspace=` (default: WORKSPACE). */
function hostSite(port) {
  return new Promise((resolve) => {
    const server = http.createServer((request, response) => {
      const workspace = new URL(request.url, "http://host").searchParams.get("workspace") || WORKSPACE;
      response.writeHead(200, {
        "Content-Type": "text/html; charset=utf-8",
        // A strict policy, as a business's site may have: no inline scripts or styles.
        "Content-Security-Policy": `default-src 'self'; script-src ${BASE}; connect-src ${BASE}; style-src 'self'`,
      });
      response.end(`<!doctype html><title>Another site</title><h1>A partner site</h1>
<script src="${BASE}/widget.js" data-workspace="${encodeURIComponent(workspace)}" data-locale="fr" data-color="#8a2be2" async></script>`);
    });
    servers.push(server);
    server.listen(port, "127.0.0.1", () => resolve(server.address().port));
  });
}

async function shadowHtml(page) {
  return page.evaluate(() => document.querySelector("fathom-chat").shadowRoot.innerHTML);
}

/** Nothing ran, and no live markup came out of untrusted text. */
async function assertInert(page) {
  assert.equal(await page.evaluate(() => window.__xss), undefined, "an XSS payload ran");
  const live = await page.evaluate(() => {
    const root = document.querySelector("fathom-chat").shadowRoot;
    return {
      scripts: root.querySelectorAll("script").length,
      images: root.querySelectorAll("img, iframe, object, embed").length,
      handlers: [...root.querySelectorAll("*")].filter((n) => [...n.attributes].some((a) => a.name.startsWith("on"))).length,
      badLinks: [...root.querySelectorAll("a")].filter((a) => !/^https?:/.test(a.href)).length,
    };
  });
  assert.deepEqual(live, { scripts: 0, images: 0, handlers: 0, badLinks: 0 });
}

// --- the widget asset ----------------------------------------------------------------------

describe("the widget script", () => {
  test("is at most 30 KB gzipped, on disk and as served", async () => {
    const gzipped = zlib.gzipSync(fs.readFileSync(WIDGET_FILE), { level: 9 }).length;
    console.log(`widget.js: ${fs.statSync(WIDGET_FILE).size} bytes, ${gzipped} bytes gzipped`);
    assert.ok(gzipped <= 30 * 1024, `widget.js is ${gzipped} bytes gzipped`);
    const served = await api("GET", "/widget.js");
    assert.equal(served.status, 200);
    assert.equal(served.text, fs.readFileSync(WIDGET_FILE, "utf8"), "the binary serves the file as it is");
    assert.match(served.headers.get("content-type"), /^text\/javascript/);
    assert.match(served.headers.get("cache-control"), /max-age=\d+/);
    const etag = served.headers.get("etag");
    assert.ok(etag);
    assert.equal((await api("GET", "/widget.js", { headers: { "If-None-Match": etag } })).status, 304);
  });
});

// --- one customer's conversation, start to finish ------------------------------------------

describe("a customer on the demo page", () => {
  let page;
  let w;
  let answer;

  before(async () => {
    page = await newPage();
  });
  after(async () => {
    await page?.context().close();
  });

  test("asks a help-center question and sees the answer stream in, with a citation that opens the article", async () => {
    w = await openDemo(page);
    assert.equal(await w.panel.getAttribute("role"), "dialog");
    assert.equal(await w.log.getAttribute("role"), "log");
    assert.equal(await w.log.getAttribute("aria-live"), "polite");
    // Watch the panel while the reply arrives: a typing indicator, then text growing in place.
    await page.evaluate(() => {
      const root = document.querySelector("fathom-chat").shadowRoot;
      window.__seen = { typing: false, streaming: false };
      new MutationObserver(() => {
        if (root.querySelector(".typing")) window.__seen.typing = true;
        if (root.querySelector(".msg[aria-busy]")) window.__seen.streaming = true;
      }).observe(root, { subtree: true, childList: true, characterData: true });
    });
    const replies = [];
    page.on("response", (r) => r.url().endsWith("/messages") && replies.push(r));

    answer = await ask(page, "How do I reset my password?");

    const seen = await page.evaluate(() => window.__seen);
    assert.ok(seen.typing, "a typing indicator showed");
    assert.ok(seen.streaming, "the reply streamed in before it was final");
    assert.match(await replies[0].request().headerValue("accept"), /text\/event-stream/);
    assert.match(await replies[0].headerValue("content-type"), /text\/event-stream/);
    assert.match(await answer.innerText(), /Forgot password/i);
    const citation = answer.locator('a[href="https://help.lumen.example/articles/account-reset-password"]').first();
    assert.equal(await citation.getAttribute("href"), "https://help.lumen.example/articles/account-reset-password");
    assert.equal(await citation.getAttribute("target"), "_blank");
    assert.match(await citation.getAttribute("rel"), /noopener/);
    const [article] = await Promise.all([page.context().waitForEvent("page"), citation.click()]);
    await article.waitForLoadState();
    assert.equal(article.url(), "https://help.lumen.example/articles/account-reset-password");
    assert.match(await article.title(), /account-reset-password/);
    await article.close();
  });

  test("gives the answer a thumbs down, and the workspace's stats count it", async () => {
    const before = await api("GET", "/v1/admin/stats", { token: ADMIN_KEY });
    const down = answer.locator('button[data-rating="down"]');
    assert.equal(await down.getAttribute("aria-label"), "Not helpful");
    await down.click();
    await page.waitForFunction(() =>
      document.querySelector("fathom-chat").shadowRoot.querySelector('.msg.bot button[data-rating="down"][aria-pressed="true"]'));
    const stats = await api("GET", "/v1/admin/stats", { token: ADMIN_KEY });
    assert.equal(stats.status, 200, stats.text);
    assert.equal(stats.json.feedback_down, before.json.feedback_down + 1, stats.text);
  });

  test("draws its icons as inline SVG, legible without an emoji font", async () => {
    const text = await page.evaluate(() =>
      [...document.querySelector("fathom-chat").shadowRoot.querySelectorAll(".panel, .launcher")].map((n) => n.innerText).join("\n"));
    assertNoEmojiText(text, "the widget");
    await assertIconsPainted(answer.locator(".fb svg"), path.join(ARTIFACTS, "widget-icon-feedback.png"), { atLeast: 2 });
    await assertIconsPainted(page.locator("fathom-chat .launcher svg"), path.join(ARTIFACTS, "widget-icon-launcher.png"));
    await answer.locator(".fb").screenshot({ path: path.join(ARTIFACTS, "widget-feedback.png") });
  });

  test("asks for a person and sees the handoff banner", async () => {
    assert.equal(await w.banner.isVisible(), false);
    await w.person.click();
    await w.banner.waitFor({ state: "visible" });
    assert.equal((await w.banner.innerText()).trim(), "A teammate will reply here.");
    assert.equal(await w.person.isVisible(), false, "no second request for a person");
    const { id, token } = await session(page);
    const view = await api("GET", `/v1/conversations/${id}`, { token });
    assert.equal(view.json.state, "handed_off");
  });

  test("sees an agent's reply from the helpdesk appear in the open panel", async () => {
    const { id } = await session(page);
    await agentReply(id, "Hi, I'm **Dana** from the Lumen team. I've sent you a new reset link.");
    await w.agent.first().waitFor({ state: "visible", timeout: 15_000 });
    assert.match(await w.agent.first().innerText(), /Dana[\s\S]*I'm Dana from the Lumen team/);
    assert.equal(await w.agent.first().locator("strong").innerText(), "Dana");
    assert.equal((await w.banner.innerText()).trim(), "A teammate will reply here.");
    await page.screenshot({ path: path.join(ARTIFACTS, "widget-desktop-1280x800.png") });
  });

  test("has text with at least 4.5:1 contrast everywhere in the panel", async () => {
    const lowest = await page.evaluate(() => {
      const root = document.querySelector("fathom-chat").shadowRoot;
      const rgb = (value) => (value.match(/[\d.]+/g) || []).map(Number);
      const luminance = ([r, g, b]) => {
        const linear = (c) => ((c /= 255) <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
        return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
      };
      const background = (node) => {
        for (; node; node = node.parentElement || node.getRootNode().host) {
          const color = rgb(getComputedStyle(node).backgroundColor);
          if (color.length === 3 || color[3] > 0) return color.slice(0, 3);
        }
        return [255, 255, 255];
      };
      const results = [];
      const selectors = [".launcher", "header h2", "header p", ".who", ".msg.bot p", ".msg.customer p",
        ".msg.agent p", ".msg a", ".fb button", ".banner", "form button", ".person", "textarea"];
      for (const selector of selectors) {
        for (const node of root.querySelectorAll(selector)) {
          if (!node.getClientRects().length) continue;
          const [a, b] = [luminance(rgb(getComputedStyle(node).color)), luminance(background(node))];
          results.push({ selector, ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05) });
        }
      }
      return results.sort((x, y) => x.ratio - y.ratio).slice(0, 3);
    });
    assert.ok(lowest.length > 0);
    assert.ok(lowest[0].ratio >= 4.5, JSON.stringify(lowest));
  });

  test("reloads the page and finds the conversation where it was", async () => {
    const transcript = async () =>
      (await w.log.locator(".msg[data-seq]").allInnerTexts()).map((t) => t.replace(/\s*Thanks for the feedback\.$/, ""));
    const before = await transcript();
    const saved = await session(page);
    await page.reload();
    await w.panel.waitFor({ state: "visible" }); // it was open: it reopens
    await page.waitForFunction(
      (n) => document.querySelector("fathom-chat").shadowRoot.querySelectorAll(".msg[data-seq]").length >= n,
      before.length,
    );
    assert.deepEqual(await transcript(), before);
    assert.deepEqual(await session(page), saved);
    assert.equal(await w.banner.isVisible(), true);
    assert.equal(await w.agent.count(), 1);
    assert.equal(await answer.locator('button[data-rating="down"]').getAttribute("aria-pressed"), "true");
  });

  test("closes with Escape and can be used by keyboard alone", async () => {
    await w.input.focus();
    await page.keyboard.press("Escape");
    await w.panel.waitFor({ state: "hidden" });
    assert.equal(await page.evaluate(() => document.querySelector("fathom-chat").shadowRoot.activeElement?.className), "launcher");
    await page.keyboard.press("Enter");
    await w.panel.waitFor({ state: "visible" });
    assert.equal(await page.evaluate(() => document.querySelector("fathom-chat").shadowRoot.activeElement?.localName), "textarea");
    assert.equal(await w.launcher.getAttribute("aria-expanded"), "true");
  });

  test("is told when the helpdesk closes the conversation, and can start a new one", async () => {
    const { id } = await session(page);
    await helpdeskEvent("conversation.closed", { conversation_id: id });
    await page.waitForFunction(() =>
      /has ended/.test(document.querySelector("fathom-chat").shadowRoot.querySelector(".banner").textContent));
    assert.equal(await w.input.isVisible(), false, "no typing into a closed conversation");
    await w.banner.locator("button").click();
    await w.input.waitFor({ state: "visible" });
    assert.equal(await w.log.locator(".msg[data-seq]").count(), 0);
    assert.equal(await session(page), null);
    const reply = await ask(page, "How do I reset my password?");
    assert.match(await reply.innerText(), /Forgot password/i);
    assert.notEqual((await session(page)).id, id);
  });
});

// --- hostile content -----------------------------------------------------------------------

describe("untrusted text", () => {
  test("XSS payloads in an article, an answer, a customer message and an agent reply all render inert", async () => {
    const page = await newPage();
    const w = await openDemo(page);

    const reply = await ask(page, "How do I calibrate the zephyr sensor?");
    const replyText = await reply.innerText();
    assert.match(replyText, /zephyr/i, "the answer comes from the payload article");
    assert.ok(replyText.includes("<img") || replyText.includes("<script"), `the payload shows as text: ${replyText}`);
    const citation = reply.locator(".cites li").first();
    assert.match(await citation.innerText(), /<img src=x onerror=/, "the article title shows as text");

    await ask(page, `<img src=x onerror="${XSS_MARK}='customer'"> [click me](javascript:${XSS_MARK}='link') what is the zephyr sensor reset key?`);

    const { id } = await session(page);
    await agentReply(id, `<script>${XSS_MARK}='agent-script'</script><img src=x onerror="${XSS_MARK}='agent-img'"> [docs](javascript:${XSS_MARK}='agent-link') **bold**`, `<b onmouseover="${XSS_MARK}='agent-name'">Eve</b>`);
    await w.agent.first().waitFor({ state: "visible", timeout: 15_000 });
    assert.match(await w.agent.first().innerText(), /<script>window.__xss='agent-script'<\/script>/);

    await page.mouse.move(10, 10);
    for (const node of await page.locator("fathom-chat .msg").all()) await node.hover();
    await page.waitForTimeout(300);
    await assertInert(page);
    assert.ok((await shadowHtml(page)).includes("&lt;img src=x onerror="), "payloads are escaped text");
    await page.context().close();
  });
});

// --- small screens, other origins, failures ------------------------------------------------

describe("the widget elsewhere", () => {
  test("fills the screen on a phone", async () => {
    const page = await newPage(MOBILE, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    const w = await openDemo(page);
    await ask(page, "How do I turn on two-factor authentication?");
    const box = await w.panel.boundingBox();
    assert.deepEqual(box, { x: 0, y: 0, width: MOBILE.width, height: MOBILE.height });
    await page.screenshot({ path: path.join(ARTIFACTS, "widget-mobile-390x844.png") });
    await page.context().close();
  });

  test("works on a page from an allowed origin with a strict CSP, in its locale and colour", async () => {
    const page = await newPage();
    const w = await openDemo(page, `http://localhost:${ALLOWED_PORT}/`);
    assert.equal(await w.input.getAttribute("placeholder"), "Écrivez votre question…");
    assert.equal(await w.launcher.evaluate((b) => getComputedStyle(b).backgroundColor), "rgb(138, 43, 226)");
    // data-locale="fr" scopes answers to French articles; the sample help center has none.
    const reply = await ask(page, "Comment réinitialiser mon mot de passe ?");
    // …and the bot says so in French: its own sentences follow the customer's locale.
    assert.match(await reply.innerText(), /membre de l'équipe|pas trouvé/i);
    assert.equal(await w.error.isVisible(), false);
    assert.equal((await w.banner.innerText()).trim(), "Un membre de l'équipe vous répondra ici.");
    const violations = page.consoleLines.filter((line) => /Content Security Policy/i.test(line));
    assert.deepEqual(violations, [], "the widget needs nothing a strict CSP forbids");
    await page.context().close();
  });

  test("is refused on a page from an origin the workspace does not allow", async () => {
    const port = await hostSite(0);
    const before = await api("GET", "/v1/admin/conversations", { token: ADMIN_KEY });
    const page = await newPage(DESKTOP, {}, { helpCenter: false });
    const failed = [];
    page.on("requestfailed", (r) => r.url().startsWith(BASE + "/v1/") && failed.push(r.url()));
    const w = await openDemo(page, `http://127.0.0.1:${port}/`);
    await w.input.fill("How do I reset my password?");
    await w.input.press("Enter");
    await w.error.waitFor({ state: "visible" });
    assert.equal(await w.error.getAttribute("role"), "alert");
    assert.match(await w.error.innerText(), /Impossible de joindre l'assistance/);
    assert.equal(await w.error.locator("button").innerText(), "Réessayer");
    assert.ok(failed.some((u) => u === BASE + "/v1/conversations"), `blocked: ${failed}`);
    assert.ok(page.consoleLines.some((l) => /CORS/.test(l)), page.consoleLines.join("\n"));
    assert.equal(await w.input.inputValue(), "How do I reset my password?", "the message is kept for a retry");
    const afterwards = await api("GET", "/v1/admin/conversations", { token: ADMIN_KEY });
    assert.equal(afterwards.json.conversations.length, before.json.conversations.length, "no conversation was created");
    await page.context().close();
  });

  test("is refused for another workspace on a page allowed only for this one", async () => {
    // The page's origin passes CORS (acme allows it), but globex does not list it.
    const page = await newPage(DESKTOP, {}, { helpCenter: false });
    const w = await openDemo(page, `http://localhost:${ALLOWED_PORT}/?workspace=${OTHER_WORKSPACE}`);
    await w.input.fill("How do I reset my password?");
    await w.input.press("Enter");
    await w.error.waitFor({ state: "visible" });
    assert.equal(await w.error.getAttribute("data-kind"), "origin_not_allowed");
    assert.match(await w.error.innerText(), /n'est pas disponible sur ce site/);
    const refused = await api("POST", "/v1/conversations", {
      body: { workspace: OTHER_WORKSPACE },
      headers: { Origin: `http://localhost:${ALLOWED_PORT}` },
    });
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.json.code, "origin_not_allowed");
    await page.context().close();
  });

  test("starts afresh when the saved conversation no longer exists on the server", async () => {
    const page = await newPage();
    await page.addInitScript(([key]) => {
      if (!sessionStorage.getItem("seeded")) {
        sessionStorage.setItem("seeded", "1");
        localStorage.setItem(key, JSON.stringify({ id: "01JUNKJUNKJUNKJUNKJUNKJUNK", token: "fct_gone" }));
      }
    }, [`fathom:${BASE}:${WORKSPACE}`]);
    const w = await openDemo(page);
    const reply = await ask(page, "How do I reset my password?");
    assert.match(await reply.innerText(), /Forgot password/i);
    assert.equal(await w.error.isVisible(), false);
    assert.notEqual((await session(page)).id, "01JUNKJUNKJUNKJUNKJUNKJUNK");
    await page.context().close();
  });

  test("explains rate limits, outages and being offline in plain words, and recovers with Retry", async () => {
    const page = await newPage();
    const w = await openDemo(page);
    const send = async (text) => {
      await w.input.fill(text);
      await w.input.press("Enter");
    };
    const retry = async () => {
      await w.error.locator("button:not([disabled])").click({ timeout: 10_000 });
    };

    await page.route("**/v1/conversations", (route) =>
      route.fulfill({
        status: 429, headers: { "Retry-After": "2", "Access-Control-Expose-Headers": "Retry-After" },
        contentType: "application/json", body: '{"code":"rate_limited","message":"slow down"}',
      }));
    await send("How do I reset my password?");
    await w.error.waitFor({ state: "visible" });
    assert.match(await w.error.innerText(), /too quickly\. Please wait 2 seconds/);
    assert.equal(await w.error.getAttribute("data-kind"), "rate_limited");

    await page.unroute("**/v1/conversations");
    await page.route("**/v1/conversations", (route) =>
      route.fulfill({ status: 503, contentType: "application/json", body: '{"code":"not_ready","message":"down"}' }));
    await retry();
    await page.waitForFunction(() => /unavailable right now/.test(document.querySelector("fathom-chat").shadowRoot.querySelector(".error").textContent));

    await page.unroute("**/v1/conversations");
    await page.context().setOffline(true);
    await retry();
    await page.waitForFunction(() => /offline/.test(document.querySelector("fathom-chat").shadowRoot.querySelector(".error").textContent));

    // Back online: the widget retries by itself.
    await page.context().setOffline(false);
    await w.error.waitFor({ state: "hidden" });
    await page.waitForFunction(() => document.querySelector("fathom-chat").shadowRoot.querySelector(".msg.bot[data-seq]"));
    assert.match(await w.bot.last().innerText(), /Forgot password/i);
    await page.context().close();
  });
});
