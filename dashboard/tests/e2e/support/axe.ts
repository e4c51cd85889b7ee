// axe-core in the page (npm `axe-core`, injected through page.evaluate, which the server's
// Content-Security-Policy does not apply to). @axe-core/playwright wants Node 22; this is the
// same engine without the wrapper.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page, TestInfo } from '@playwright/test';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
	id: string;
	impact: string | null;
	help: string;
	nodes: { target: string[]; failureSummary?: string }[];
}

/**
 * Runs axe-core on the page (WCAG 2.0/2.1/2.2 A and AA, plus best practices), attaches the full
 * report, and returns the serious and critical violations, one line per element.
 */
export async function axeSerious(page: Page, testInfo: TestInfo, name: string): Promise<string[]> {
	await page.evaluate(AXE_SOURCE);
	const violations = await page.evaluate(async () => {
		const axe = (window as unknown as { axe: { run: (context: Document, options: object) => Promise<{ violations: unknown[] }> } }).axe;
		const results = await axe.run(document, { resultTypes: ['violations'] });
		return results.violations as AxeViolation[];
	});
	await testInfo.attach(`axe-${name}.json`, { body: JSON.stringify(violations, null, 2), contentType: 'application/json' });
	return violations
		.filter((v) => v.impact === 'serious' || v.impact === 'critical')
		.flatMap((v) => v.nodes.map((node) => `${v.impact} ${v.id} (${v.help}): ${node.target.join(' ')}`));
}
