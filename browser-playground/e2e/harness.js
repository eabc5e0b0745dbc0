// Shared by the tests and the benchmark: starts `rvedge playground` on a free loopback port
// and Debian's Chromium through playwright-core (never a downloaded browser).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (scripts/test-playground.sh sets it)`);
  return value;
}

/** Starts `rvedge playground --listen 127.0.0.1:0` and resolves with its URL and process. */
export function startServer() {
  const server = spawn(required('RVEDGE_BIN'), ['playground', '--listen', '127.0.0.1:0', '--dir', required('PLAYGROUND_DIR')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`rvedge playground did not start: ${output}`)), 10_000);
    server.stdout.on('data', (chunk) => {
      output += chunk;
      const match = output.match(/at (http:\/\/127\.0\.0\.1:\d+\/)/);
      if (match) {
        clearTimeout(timer);
        resolve({ url: match[1], stop: () => server.kill() });
      }
    });
    server.on('exit', (code) => reject(new Error(`rvedge playground exited with ${code}: ${output}`)));
  });
}

/** Launches /usr/bin/chromium headless with a fresh profile (a persistent context is how
 * Playwright takes a user data directory). */
export async function launchBrowser() {
  const profile = mkdtempSync(path.join(tmpdir(), 'rvedge-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Opens the playground and waits until the first example is loaded. */
export async function openPlayground(context, url) {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(String(error)));
  page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()); });
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  return { page, problems };
}
