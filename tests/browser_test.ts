/**
 * End-to-end test of the dashboard (`web/`) in a real headless Chromium: the
 * page calls the instances over gRPC-web through the same routing transport
 * as Deno, reads and pages a channel, posts a message, fires an announcement
 * storm of 500 reads, and shows numbers that must equal the servers' GetStats
 * deltas; the hot-keys panel then names the stormed channel first. A second test loads the page from another origin next to instances
 * that are down, refuse the origin (CORS) or have no Cassandra.
 *
 * Needs Debian's chromium (`apt-get install -y chromium`) and a running
 * Cassandra (`deno task db up`). Saves `artifacts/browser.png` and the README's
 * `web/screenshot.png`.
 *
 * Sanitizers are off: cassandra-driver, node:http agents and the browser's
 * pipes outlive a test body by design; every test closes what it opened.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { route } from "../router/mod.ts";
import { randomChannel, startInstance } from "./_util.ts";
import { startStack } from "../cli/start.ts";
import { buildBundle, fleetClient, launchBrowser, servePage } from "./_browser.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** The little of the DOM that page functions below use (this file is checked without the DOM lib). */
interface PageElement {
  getAttribute(name: string): string | null;
  readonly textContent: string | null;
  readonly nextElementSibling: PageElement | null;
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): { readonly length: number };
};

/** The raw number a page element shows (its `data-value`). */
async function valueOf(page: Page, selector: string): Promise<number> {
  const v = await page.locator(selector).getAttribute("data-value");
  assert.ok(v !== null, `${selector} has no data-value`);
  return Number(v);
}

/** Writes `count` messages to `channelId` from Deno, oldest first. */
async function seed(
  client: ReturnType<typeof fleetClient>["clients"][number],
  channelId: bigint,
  count: number,
) {
  for (let k = 1; k <= count; k++) {
    await client.createMessage({
      channelId,
      authorId: BigInt(100 + (k % 7)),
      content: `History message ${k} of ${count}`,
    });
  }
}

/** Fires a storm of `n` reads from the page; returns the page's numbers. */
async function storm(page: Page, n: number) {
  await page.fill("#storm-n", String(n));
  await page.click("#storm-run");
  await page.waitForSelector("#storm-status[data-state=done]", {
    timeout: 120_000,
  });
  return {
    sent: await valueOf(page, "#storm-sent"),
    ok: await valueOf(page, "#storm-ok"),
    requests: await valueOf(page, "#storm-requests"),
    queries: await valueOf(page, "#storm-queries"),
    saved: await valueOf(page, "#storm-saved"),
    coalesced: await valueOf(page, "#storm-coalesced"),
    p50: await valueOf(page, "#storm-p50"),
    p99: await valueOf(page, "#storm-p99"),
    max: await valueOf(page, "#storm-max"),
  };
}

Deno.test({
  name: "dashboard: read, page, post and a 500-read storm whose numbers match GetStats",
  ...opts,
  async fn(t) {
    await buildBundle();
    // `deno task start`'s stack on ephemeral ports: Cassandra, 2 instances, the gateway.
    const stack = await startStack({
      basePort: 0,
      gatewayPort: 0,
      log: () => {},
    });
    const fleet = fleetClient(stack.instanceUrls);
    const browser = await launchBrowser();
    try {
      const targets = stack.instanceUrls.map((u) => new URL(u).host);
      const channel = randomChannel();
      await seed(fleet.clients[0], channel, 60);
      const config = await fetch(`${stack.gatewayUrl}/config.json`).then((r) => r.json());

      const page = await browser.newPage({
        viewport: { width: 1360, height: 1000 },
      });
      const consoleErrors: string[] = [];
      page.on("pageerror", (e) => consoleErrors.push(e.message));
      await page.goto(`${stack.gatewayUrl}/`);
      await page.waitForSelector("body[data-ready=true]");
      await page.waitForSelector(
        `#live-summary[data-value="${targets.length}"]`,
      );

      await t.step(
        "reads a channel through its owner, 50 per page, then older",
        async () => {
          await page.fill("#channel-input", String(channel));
          await page.click("#read");
          await page.waitForFunction(
            (c) =>
              document.querySelector("#history-channel")?.getAttribute(
                  "data-value",
                ) === c &&
              document.querySelectorAll("#messages li[data-message-id]")
                  .length === 50,
            String(channel),
          );
          const owner = targets[route(channel, targets.length)];
          assert.equal(
            await page.locator("#route").getAttribute("data-value"),
            owner,
          );
          assert.match(
            await page.locator("#messages li").first().innerText(),
            /message 60 of 60/,
          );
          assert.equal(await page.locator("#older").isDisabled(), false);
          await page.click("#older");
          await page.waitForFunction(() =>
            document.querySelectorAll("#messages li[data-message-id]")
              .length === 60
          );
          assert.match(
            await page.locator("#messages li").last().innerText(),
            /message 1 of 60/,
          );
          assert.equal(await page.locator("#older").isDisabled(), true);
        },
      );

      await t.step("posts a message and sees it at the top", async () => {
        const text = `Hello from Chromium ${crypto.randomUUID().slice(0, 8)} ✓`;
        await page.fill("#author", "42");
        await page.fill("#content", text);
        await page.click("#post");
        await page.waitForSelector("#post-status[data-state=done]");
        const id = await page.locator("#post-status").getAttribute(
          "data-message-id",
        );
        const first = page.locator("#messages li").first();
        assert.equal(await first.getAttribute("data-message-id"), id);
        assert.match(await first.innerText(), new RegExp(text));
        assert.match(await first.innerText(), /author 42/);
      });

      await t.step(
        "the gateway toggle: a storm through the gateway",
        async () => {
          assert.equal(config.gateway, stack.gatewayUrl);
          await page.click("#via-gateway-label");
          assert.equal(await page.locator("#via-gateway").isChecked(), true);
          assert.match(await page.locator("#route").innerText(), /gateway/);
          const before = await fleet.totals();
          const shown = await storm(page, 200);
          const after = await fleet.totals();
          assert.equal(shown.ok, 200);
          assert.equal(after.requests - before.requests, 200);
          assert.equal(shown.requests, after.requests - before.requests);
          assert.equal(shown.queries, after.queries - before.queries);
          assert.ok(shown.queries < shown.requests);
          assert.match(
            await page.locator("#storm-status").innerText(),
            /via gateway/,
          );
          await page.click("#via-direct-label");
          assert.equal(await page.locator("#via-direct").isChecked(), true);
        },
      );

      await t.step(
        "a storm of 500 reads: the page's numbers are the GetStats deltas",
        async () => {
          const before = await fleet.totals();
          const shown = await storm(page, 500);
          const after = await fleet.totals();
          const requests = after.requests - before.requests;
          const queries = after.queries - before.queries;
          assert.equal(shown.sent, 500);
          assert.equal(shown.ok, 500, "every read succeeded");
          assert.equal(requests, 500, "the servers saw exactly the storm");
          assert.equal(shown.requests, requests);
          assert.equal(shown.queries, queries);
          assert.equal(shown.saved, requests - queries);
          assert.equal(shown.coalesced, after.coalesced - before.coalesced);
          assert.ok(
            queries < requests,
            `coalescing saved nothing: ${queries} queries`,
          );
          assert.ok(
            shown.p50 > 0 && shown.p50 <= shown.p99 && shown.p99 <= shown.max,
          );
          console.log(
            `storm: ${requests} requests, ${queries} queries, ${requests - queries} saved; ` +
              `p50 ${shown.p50} ms, p99 ${shown.p99} ms, max ${shown.max} ms`,
          );
        },
      );

      await t.step(
        "the hot-keys panel names the stormed channel first, on its owner, with its saved ratio",
        async () => {
          const owner = targets[route(channel, targets.length)];
          const first = `#hotkeys tbody tr[data-rank="1"][data-channel="${channel}"]`;
          // Within one window (10 s): the panel polls every instance's GetHotKeys once a second.
          await page.waitForSelector(first, { timeout: 10_000 });
          const row = page.locator(first);
          assert.match(await row.locator("[data-field=instance]").innerText(), new RegExp(owner));
          const requests = Number(
            await row.locator("[data-field=requests]").getAttribute("data-value"),
          );
          assert.ok(requests >= 500, `the storm's channel shows ${requests} requests`);
          const saved = Number(await row.locator("[data-field=saved]").getAttribute("data-value"));
          assert.ok(saved > 0.5, `saved ratio ${saved}`);
          // The same channel is first in its owner's own answer.
          const direct = await fleet.clients[targets.indexOf(owner)].getHotKeys({});
          assert.equal(direct.channels[0].channelId, channel);
          assert.equal(
            await page.locator("#hotkeys-summary").getAttribute("data-value"),
            String(channel),
          );
        },
      );

      await t.step(
        "the live panel shows the storm, then a screenshot",
        async () => {
          // Two polls after the storm: the per-second rates include it.
          const polls = Number(
            await page.locator("#live-summary").getAttribute("data-polls"),
          );
          await page.waitForFunction(
            (p) =>
              Number(
                document.querySelector("#live-summary")?.getAttribute(
                  "data-polls",
                ),
              ) >= p,
            polls + 2,
          );
          const owner = targets[route(channel, targets.length)];
          const row = page.locator(`#instances tr[data-instance="${owner}"]`);
          assert.equal(await row.getAttribute("data-state"), "up");
          assert.ok(
            Number(
              await row.locator("[data-field=requests]").getAttribute(
                "data-value",
              ),
            ) >= 500,
          );
          const errors = await page.locator("#errors").innerText();
          assert.equal(errors, "", "no errors shown");
          await Deno.mkdir(new URL("../artifacts/", import.meta.url), {
            recursive: true,
          });
          const png = await page.screenshot({ fullPage: true });
          await Deno.writeFile(
            new URL("../artifacts/browser.png", import.meta.url),
            png,
          );
          // UPDATE_SCREENSHOT=1 refreshes the README's picture; CI leaves the tree clean.
          if (Deno.env.get("UPDATE_SCREENSHOT") === "1") {
            await Deno.writeFile(new URL("../web/screenshot.png", import.meta.url), png);
          }
        },
      );
      assert.deepEqual(consoleErrors, [], "no uncaught errors in the page");
    } finally {
      await browser.close();
      fleet.close();
      await stack.close();
    }
  },
});

Deno.test({
  name: "dashboard from another origin: direct calls work, broken instances show readable errors",
  ...opts,
  async fn() {
    await buildBundle();
    const healthy = await Promise.all([startInstance(), startInstance()]);
    // Up, but allows only another origin: the browser's CORS check refuses this page.
    const refusing = await startInstance([
      "--cors-origins",
      "http://only.example",
    ]);
    // Up, but its Cassandra does not answer: NOT_SERVING, /readyz says why.
    const noCassandra = await startInstance([
      "--cassandra-contact-points",
      "127.0.0.1:1",
    ], {
      waitReady: false,
    });
    // Down: a port nothing listens on.
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const deadPort = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const targets = [
      ...[...healthy, refusing, noCassandra].map((i) => new URL(i.url).host),
      `127.0.0.1:${deadPort}`,
    ];
    const [refusingId, noCassandraId, deadId] = targets.slice(2);
    // The page comes from http://localhost:<port>; the instances are http://127.0.0.1:<port>.
    const site = servePage({ hostname: "localhost" });
    const fleet = fleetClient(healthy.map((i) => i.url));
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({
        viewport: { width: 1360, height: 1000 },
      });
      await page.goto(`${site.url}/?instances=${targets.join(",")}`);
      await page.waitForSelector("body[data-ready=true]");
      assert.match(page.url(), /^http:\/\/localhost:/);

      const row = (id: string) => page.locator(`#instances tr[data-instance="${id}"]`);
      const stateOf = (id: string) => row(id).getAttribute("data-state");
      await page.waitForFunction(
        (ids) =>
          ids.every((id) =>
            document.querySelector(`#instances tr[data-instance="${id}"]`)
              ?.getAttribute(
                "data-state",
              ) !== null
          ),
        targets,
      );
      for (const i of healthy) {
        assert.equal(await stateOf(new URL(i.url).host), "up");
      }
      // The notes under each broken instance say what is wrong.
      const noteOf = (id: string) => row(id).locator("xpath=following-sibling::tr[1]").innerText();
      await page.waitForFunction(
        ([a, b, c]) =>
          [a, b, c].every((id) => {
            const tr = document.querySelector(
              `#instances tr[data-instance="${id}"]`,
            );
            return tr && tr.getAttribute("data-state") !== "up" &&
              (tr.nextElementSibling?.textContent ?? "") !== "";
          }),
        [refusingId, noCassandraId, deadId],
      );
      assert.equal(await stateOf(refusingId), "down");
      assert.match(
        await noteOf(refusingId),
        /refuses calls from this page's origin.*CORS/,
      );
      assert.equal(await stateOf(deadId), "down");
      assert.match(
        await noteOf(deadId),
        /cannot reach instance .* down or not listening/,
      );
      assert.equal(await stateOf(noCassandraId), "not-serving");
      await page.waitForFunction(
        (id) =>
          /not ready/.test(
            document.querySelector(`#instances tr[data-instance="${id}"]`)
              ?.nextElementSibling
              ?.textContent ?? "",
          ),
        noCassandraId,
      );

      // Channels owned by each broken instance still work: they fail over to a live one.
      for (const broken of [2, 3, 4]) {
        let channel = randomChannel();
        while (route(channel, targets.length) !== broken) channel++;
        await fleet.clients[0].createMessage({
          channelId: channel,
          authorId: 9n,
          content: "hi",
        });
        await page.fill("#channel-input", String(channel));
        await page.click("#read");
        await page.waitForFunction(
          (c) =>
            document.querySelector("#history-channel")?.getAttribute(
                "data-value",
              ) === c &&
            document.querySelector("#history-status")?.getAttribute(
                "data-state",
              ) === "done",
          String(channel),
        );
        const routed = await page.locator("#route").getAttribute("data-value");
        assert.ok(
          routed === targets[0] || routed === targets[1],
          `routed to ${routed}`,
        );
        assert.match(
          await page.locator("#route").innerText(),
          /fallback: owner .* is down/,
        );
        assert.equal(
          await page.locator("#messages li[data-message-id]").count(),
          1,
        );
        const text = `cross-origin post ${broken}`;
        await page.fill("#content", text);
        await page.click("#post");
        await page.waitForFunction(
          (t) => document.querySelector("#messages li")?.textContent?.includes(t),
          text,
        );
      }
      // A small storm from this origin counts only the instances it can read.
      const before = await fleet.totals();
      const shown = await storm(page, 50);
      const after = await fleet.totals();
      assert.equal(shown.ok, 50);
      assert.equal(shown.requests, after.requests - before.requests);
      assert.equal(shown.queries, after.queries - before.queries);
      assert.match(
        await page.locator("#storm-notes").innerText(),
        /not counted/,
      );
      // The error list names the problems in words.
      const errors = await page.locator("#errors").innerText();
      assert.match(errors, /CORS/);
      assert.match(errors, /down or not listening/);
      await Deno.mkdir(new URL("../artifacts/", import.meta.url), {
        recursive: true,
      });
      await page.screenshot({
        path: new URL("../artifacts/browser-errors.png", import.meta.url).pathname,
        fullPage: true,
      });
    } finally {
      await browser.close();
      fleet.close();
      await site.close();
      await Promise.all(
        [...healthy, refusing, noCassandra].map((i) => i.close(100)),
      );
    }
  },
});
