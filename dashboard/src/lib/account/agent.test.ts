import { describe, expect, it } from 'vitest';
import { describeAgent } from './agent';

describe('describeAgent', () => {
	it('names the browser and the system of the devices a household uses', () => {
		const cases: [string, string][] = [
			[
				'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
				'Chrome · Linux'
			],
			[
				'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
				'Edge · Windows'
			],
			['Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0', 'Firefox · Windows'],
			[
				'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36',
				'Chrome · Android'
			],
			[
				'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
				'Safari · iOS'
			],
			[
				'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
				'Safari · macOS'
			],
			[
				'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36',
				'Chrome · Linux'
			],
			[
				'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0',
				'Opera · Windows'
			]
		];
		for (const [ua, expected] of cases) expect(describeAgent(ua), ua).toBe(expected);
	});

	it('says nothing for a script or a missing header', () => {
		expect(describeAgent('curl/8.11.0')).toBeNull();
		expect(describeAgent(null)).toBeNull();
		expect(describeAgent('')).toBeNull();
	});
});
