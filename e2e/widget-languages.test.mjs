// The chat widget in German, Spanish and Chinese, in a real headless Chromium against a running
// `fathom serve` whose help center has articles in those languages.
//
// crates/fathom/tests/widget_languages.rs starts the server and runs this file with:
//   FATHOM_E2E_BASE_URL      the gateway, e.g. http://127.0.0.1:18080 (serves /widget.js)
//   FATHOM_E2E_WORKSPACE     the workspace
//   FATHOM_E2E_ALLOWED_PORT  a port whose http://localhost:<port> origin the workspace allows
//   FATHOM_E2E_ARTIFACTS     where screenshots go (default: target/e2e-artifacts)
//   FATHOM_E2E_CHROMIUM      the browser (default: /usr/bin/chromium)

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`set ${name} (see the top of e2e/widget-languages.test.mjs)`);
  return value;
};
const BASE = env("FATHOM_E2E_BASE_URL").replace(/\/+$/, "");
const WORKSPACE = env("FATHOM_E2E_WORKSPACE");
const ALLOWED_PORT = Number(env("FATHOM_E2E_ALLOWED_PORT"));
const ARTIFACTS = path.resolve(env("FATHOM_E2E_ARTIFACTS", path.join(here, "..", "target", "e2e-artifacts")));
const CHROMIUM = env("FATHOM_E2E_CHROMIUM", "/usr/bin/chromium");

let browser;
let site;

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  // A business's page: the widget in the locale the query string names.
  site = http.createServer((request, response) => {
    const locale = new URL(request.url, "http://host").searchParams.get("locale") || "en";
    response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    response.end(`<!doctype html><html lang="${locale}"><meta charset="utf-8"><title>Help</title><h1>${locale}</h1>
<script src="${BASE}/widget.js" data-workspace="${encodeURIComponent(WORKSPACE)}" data-locale="${locale}" async></script>`);
  });
  await new Promise((resolve) => site.listen(ALLOWED_PORT, "127.0.0.1", resolve));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  site?.close();
});

const widget = (page) => ({
  launcher: page.locator("fathom-chat .launcher"),
  panel: page.locator("fathom-chat .panel"),
  input: page.locator("fathom-chat textarea"),
  bot: page.locator("fathom-chat .msg.bot[data-seq]"),
  banner: page.locator("fathom-chat .banner"),
  person: page.locator("fathom-chat .person"),
});

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
  return w.bot.last();
}

// For each language: the widget's own texts, an answer quoted from the article in that language,
// then the customer asks for a person with the button (its words in that language) and the bot
// hands off, with the banner in that language.
const CONVERSATIONS = [
  {
    locale: "de",
    placeholder: "Ihre Frage…",
    question: "Wie lange ist der Link zum Zurücksetzen des Passworts gültig?",
    answerWords: /60 Minuten/,
    banner: "Ein Teammitglied antwortet Ihnen hier.",
  },
  {
    locale: "es",
    placeholder: "Escribe tu pregunta…",
    question: "¿Cuánto tiempo es válido el enlace para restablecer la contraseña?",
    answerWords: /60 minutos/,
    banner: "Un miembro del equipo te responderá aquí.",
  },
  {
    locale: "zh",
    placeholder: "请输入您的问题…",
    question: "重置密码的链接有效期是多长时间？",
    answerWords: /60分钟/,
    banner: "客服人员将在这里回复您。",
  },
];

describe("a customer writing in their own language", () => {
  for (const c of CONVERSATIONS) {
    test(`gets the widget and the answer in ${c.locale}, and a person on request`, async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: c.locale });
      const page = await context.newPage();
      await page.goto(`http://localhost:${ALLOWED_PORT}/?locale=${c.locale}`);
      const w = widget(page);
      await w.launcher.click();
      await w.panel.waitFor({ state: "visible" });
      assert.equal(await w.input.getAttribute("placeholder"), c.placeholder);

      const reply = await ask(page, c.question);
      assert.match(await reply.innerText(), c.answerWords);

      await w.person.click();
      await w.banner.waitFor({ state: "visible" });
      assert.equal((await w.banner.innerText()).trim(), c.banner);
      await page.screenshot({ path: path.join(ARTIFACTS, `widget-conversation-${c.locale}.png`) });
      await context.close();
    });
  }
});
