// Used by scripts/e2e.sh (no curl on a fresh Debian): waits until URL answers 2xx, and with
// MIN_ITEMS until its JSON has at least that many `items` (the library scan has finished).
// Usage: node wait-http.mjs URL SECONDS [MIN_ITEMS]   (WAIT_TOKEN=… sends it as a bearer token)
const [url, seconds = '60', minItems] = process.argv.slice(2);
const headers = process.env.WAIT_TOKEN ? { Authorization: `Bearer ${process.env.WAIT_TOKEN}` } : {};
const deadline = Date.now() + Number(seconds) * 1000;
let last = 'no answer';
while (Date.now() < deadline) {
	try {
		const response = await fetch(url, { headers, signal: AbortSignal.timeout(2000) });
		if (response.ok) {
			if (minItems === undefined) process.exit(0);
			const body = await response.json();
			const count = Array.isArray(body?.items) ? body.items.length : 0;
			if (count >= Number(minItems)) process.exit(0);
			last = `${count} items`;
		} else {
			last = `HTTP ${response.status}`;
		}
	} catch (error) {
		last = String(error instanceof Error ? error.message : error);
	}
	await new Promise((resolve) => setTimeout(resolve, 200));
}
console.error(`e2e: ${url} not ready within ${seconds} s (${last})`);
process.exit(1);
