// The support-lead console in a real headless Chromium, against a running `fathom serve`.
//
// crates/fathom/tests/console.rs seeds the store through the customer API, writes eval reports,
// starts the server and runs this file with:
//   FATHOM_E2E_BASE_URL         the gateway, e.g. http://127.0.0.1:18080 (serves /console)
//   FATHOM_E2E_ADMIN_KEY        the admin key of the seeded workspace
//   FATHOM_E2E_OTHER_ADMIN_KEY  another workspace's key (its data must never show)
//   FATHOM_E2E_EXPECTED         JSON: what the driver seeded (counts, comments, ids, reports)
//   FATHOM_E2E_ARTIFACTS        where the screenshot goes (default: target/e2e-artifacts)
//   FATHOM_E2E_CHROMIUM         the browser (default: /usr/bin/chromium)
//
// Every number on the page is compared twice: with the admin API (same window) and with what
// the driver seeded.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { assertIconsPainted, assertNoEmojiText } from "./icons.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`set ${name} (see the top of e2e/console.test.mjs)`);
  return value;
};
const BASE = env("FATHOM_E2E_BASE_URL").replace(/\/+$/, "");
const ADMIN_KEY = env("FATHOM_E2E_ADMIN_KEY");
const OTHER_ADMIN_KEY = env("FATHOM_E2E_OTHER_ADMIN_KEY");
const EXPECTED = JSON.parse(env("FATHOM_E2E_EXPECTED"));
const ARTIFACTS = path.resolve(env("FATHOM_E2E_ARTIFACTS", path.join(here, "..", "target", "e2e-artifacts")));
const CHROMIUM = env("FATHOM_E2E_CHROMIUM", "/usr/bin/chromium");

let browser;

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
});

async function admin(pathAndQuery, key = ADMIN_KEY) {
  const response = await fetch(BASE + pathAndQuery, { headers: { Authorization: `Bearer ${key}` } });
  assert.equal(response.status, 200, `${pathAndQuery}: ${response.status}`);
  return response.json();
}

const percent = (value) => (value === null ? "—" : (value * 100).toFixed(1) + "%");

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (error) => page.errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") page.errors.push(message.text());
  });
  await page.addInitScript(() => {
    window.__xss = undefined;
  });
  return page;
}

async function signIn(page, key) {
  await page.goto(BASE + "/console");
  await page.locator("#key").fill(key);
  await page.locator("#login-form button[type=submit]").click();
}

async function waitLoaded(page) {
  await page.waitForSelector("body[data-loaded=true]");
}

const text = (page, selector) => page.locator(selector).innerText();

test("the admin API behind the console refuses requests without the key", async () => {
  for (const route of ["/v1/admin/console/summary", "/v1/admin/console/questions", "/v1/admin/eval-reports"]) {
    const response = await fetch(BASE + route);
    assert.equal(response.status, 401, route);
    assert.equal((await response.json()).code, "missing_authorization");
  }
});

test("a wrong key is refused and the page shows no data", async () => {
  const page = await newPage();
  await signIn(page, "not-the-admin-key-0123456789");
  await page.waitForSelector("#login-error:not([hidden])");
  assert.match(await text(page, "#login-error"), /not accepted/);
  assert.equal(await page.locator("#app").isHidden(), true);
  await page.context().close();
});

test("the console shows the numbers the store holds, transcripts and eval reports", async () => {
  const page = await newPage();
  await signIn(page, ADMIN_KEY);
  await waitLoaded(page);
  await page.locator("#window").selectOption("last=100");
  await waitLoaded(page);

  const summary = await admin("/v1/admin/console/summary?last=100&quiet_hours=24");
  const questions = await admin("/v1/admin/console/questions?last=100");
  const r = summary.resolution;

  // The API agrees with what the driver seeded.
  assert.equal(r.conversations, EXPECTED.conversations);
  assert.equal(r.resolved, EXPECTED.resolved);
  assert.equal(r.unresolved, EXPECTED.unresolved);
  assert.equal(r.by_outcome.pending, EXPECTED.pending);
  assert.equal(summary.handoffs.total, EXPECTED.handoffs_total);
  assert.deepEqual(summary.handoffs.by_reason, EXPECTED.handoffs_by_reason);
  assert.equal(summary.feedback.up, EXPECTED.feedback_up);
  assert.equal(summary.feedback.down, EXPECTED.feedback_down);

  // The page agrees with the API (and so with the seed).
  assert.equal(await text(page, "#workspace"), summary.workspace);
  assert.equal(await text(page, "#rate"), percent(r.rate));
  assert.equal(await text(page, "#rate"), percent(EXPECTED.resolved / (EXPECTED.resolved + EXPECTED.unresolved)));
  assert.match(await text(page, "#rate-interval"), new RegExp(`${percent(r.rate_low).replace(".", "\\.")} – ${percent(r.rate_high).replace(".", "\\.")}`));
  assert.equal(Number(await text(page, "#resolved-count")), EXPECTED.resolved);
  assert.equal(Number(await text(page, "#unresolved-count")), EXPECTED.unresolved);
  assert.equal(Number(await text(page, "#not-counted-count")), r.not_counted);
  assert.equal(Number(await text(page, "#conversation-count")), EXPECTED.conversations);
  for (const [outcome, count] of Object.entries(r.by_outcome)) {
    assert.equal(Number(await text(page, `#outcomes tr[data-outcome="${outcome}"] td.count`)), count, outcome);
  }
  assert.equal(await text(page, "#definition"), summary.definition);
  assert.match(await text(page, "#definition"), /quiet window/);

  // Handoffs by reason: one bar per reason, with the seeded counts.
  assert.equal(Number(await text(page, "#handoffs-total")), EXPECTED.handoffs_total);
  const bars = await page.locator("#handoffs .bar-row").evaluateAll((rows) =>
    Object.fromEntries(rows.map((row) => [row.dataset.reason, Number(row.querySelector(".count").textContent)])));
  assert.deepEqual(bars, EXPECTED.handoffs_by_reason);

  // Feedback: counts, and every comment shown as text (the hostile one never runs).
  assert.equal(Number(await text(page, "#feedback-up")), EXPECTED.feedback_up);
  assert.equal(Number(await text(page, "#feedback-down")), EXPECTED.feedback_down);
  const comments = await page.locator("#feedback-list .comment").allInnerTexts();
  assert.deepEqual([...comments].sort(), [...EXPECTED.comments].sort());
  assert.deepEqual([...comments].sort(), summary.feedback.items.filter((i) => i.comment).map((i) => i.comment).sort());
  assert.equal(await page.locator("#feedback-list li").count(), summary.feedback.items.length);
  assert.equal(summary.feedback.items.length, EXPECTED.comments.length, "ratings with comments only");
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.equal(await page.locator("#feedback-list img").count(), 0);
  const whole = await page.locator("body").innerText();
  assert.ok(!whole.includes(EXPECTED.foreign_comment), "another workspace's feedback is shown");

  // Ratings are drawn as inline SVG icons beside text labels: legible without an emoji font.
  assertNoEmojiText(whole, "the console");
  assert.match(await text(page, ".thumbs"), /thumbs up \d+\s+thumbs down \d+/);
  await assertIconsPainted(page.locator(".thumbs svg.icon"), path.join(ARTIFACTS, "console-icon-thumbs-up.png"), { atLeast: 2 });
  await assertIconsPainted(page.locator("#feedback-list svg.icon"), path.join(ARTIFACTS, "console-icon-feedback-item.png"));
  await page.locator("section[aria-labelledby=feedback-title]").screenshot({ path: path.join(ARTIFACTS, "console-feedback.png") });

  // Unanswered questions: the two similar ones are one group, the largest.
  assert.equal(Number(await text(page, "#questions-total")), questions.questions);
  const firstGroup = page.locator("#question-groups > li.group").first();
  assert.equal(Number(await firstGroup.getAttribute("data-count")), questions.groups[0].count);
  const groupedIds = await firstGroup.locator("button[data-conversation]").evaluateAll((buttons) =>
    buttons.map((b) => b.dataset.conversation));
  assert.deepEqual([...groupedIds].sort(), [...EXPECTED.similar_unanswered].sort());
  assert.equal(await text(page, "#questions-method"), questions.method);

  // The recent conversations table lists the window's conversations.
  assert.equal(await page.locator("#conversations tr[data-id]").count(), EXPECTED.conversations);

  // A handed-off conversation's transcript: each decision with its reason, confidence, evidence.
  await page.locator(`#conversations tr[data-id="${EXPECTED.handed_off_conversation}"] button`).click();
  await page.waitForSelector(`#transcript[data-conversation="${EXPECTED.handed_off_conversation}"]`);
  const handedOff = await admin(`/v1/admin/console/conversations/${EXPECTED.handed_off_conversation}`);
  assert.equal(await page.locator("#transcript-messages > li").count(), handedOff.transcript.length);
  const bot = handedOff.transcript.find((m) => m.role === "bot");
  const botItem = page.locator(`#transcript-messages > li[data-seq="${bot.seq}"]`);
  assert.equal(await botItem.locator(".reason").innerText(), bot.decision.reason);
  assert.equal(await botItem.locator(".kind").innerText(), "handoff");
  assert.equal(await botItem.locator(".confidence").innerText(), bot.decision.confidence.toFixed(2));
  assert.match(await text(page, "#transcript-meta"), /outcome handed_off/);

  // An answered one: its citations and evidence ids.
  await page.locator(`#conversations tr[data-id="${EXPECTED.answered_conversation}"] button`).click();
  await page.waitForSelector(`#transcript[data-conversation="${EXPECTED.answered_conversation}"]`);
  const answered = await admin(`/v1/admin/console/conversations/${EXPECTED.answered_conversation}`);
  const answer = answered.transcript.find((m) => m.role === "bot");
  const answerItem = page.locator(`#transcript-messages > li[data-seq="${answer.seq}"]`);
  assert.equal(await answerItem.locator(".reason").innerText(), "answered");
  const citations = await answerItem.locator(".citation").allInnerTexts();
  assert.equal(citations.length, answer.decision.citations.length);
  assert.ok(citations[0].includes(answer.decision.citations[0].title));
  assert.ok(answer.decision.evidence_ids.length > 0);
  assert.ok((await answerItem.locator(".evidence").innerText()).includes(answer.decision.evidence_ids[0]));

  // Eval reports: newest first; the newest opens in place, sandboxed.
  const listed = await page.locator("#reports button[data-name]").evaluateAll((buttons) => buttons.map((b) => b.dataset.name));
  assert.deepEqual(listed, EXPECTED.reports);
  await page.locator(`#reports button[data-name="${EXPECTED.newest_report}"]`).click();
  await page.waitForSelector(`#report-view[data-name="${EXPECTED.newest_report}"]`);
  assert.equal(await page.locator("#report-frame").getAttribute("sandbox"), "");
  const report = page.frameLocator("#report-frame");
  await report.locator("h1").waitFor();
  assert.match(await report.locator("h1").innerText(), /Fathom eval/);
  await page.locator("#report-view").scrollIntoViewIfNeeded();
  await page.locator("#report-view").screenshot({ path: path.join(ARTIFACTS, "console-eval-report.png") });

  // One tall viewport rather than fullPage: Chromium paints the report's frame only in view.
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({ width: 1280, height });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(ARTIFACTS, "console.png") });
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("the key stays for the tab's session only, and another workspace's key sees its own data", async () => {
  const page = await newPage();
  await signIn(page, ADMIN_KEY);
  await waitLoaded(page);
  await page.reload();
  await waitLoaded(page);
  assert.equal(await page.locator("#login").isHidden(), true, "still signed in after a reload");
  await page.locator("#signout").click();
  assert.equal(await page.locator("#login").isVisible(), true);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);

  await signIn(page, OTHER_ADMIN_KEY);
  await waitLoaded(page);
  const other = await admin("/v1/admin/console/summary", OTHER_ADMIN_KEY);
  assert.equal(await text(page, "#workspace"), other.workspace);
  assert.notEqual(other.workspace, (await admin("/v1/admin/console/summary")).workspace);
  assert.equal(Number(await text(page, "#conversation-count")), other.resolution.conversations);
  const comments = await page.locator("#feedback-list .comment").allInnerTexts();
  assert.deepEqual(comments, [EXPECTED.foreign_comment]);
  assert.equal(await page.locator("#reports button").count(), 0);
  await page.context().close();
});
