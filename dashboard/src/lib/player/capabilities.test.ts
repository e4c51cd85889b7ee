import { describe, expect, it } from 'vitest';
import { measureTokens, serializeProfile, withBrowserProfile, withProfile, type CapabilityProbes } from './capabilities';

// MediaSource.isTypeSupported answers of Debian's Chromium 156, headless, no GPU
// (docs: browser-and-player.md, "What Debian's Chromium decodes").
const CHROMIUM_MSE = new Set([
	'video/mp4; codecs="avc1.64001f"',
	'video/mp4; codecs="av01.0.05M.08"',
	'video/mp4; codecs="av01.0.05M.10"',
	'video/mp4; codecs="vp09.00.10.08"',
	'video/mp4; codecs="vp09.02.10.10"',
	'audio/mp4; codecs="mp4a.40.2"',
	'audio/mpeg',
	'audio/mp4; codecs="opus"',
	'audio/mp4; codecs="flac"'
]);

function browser(mse: Set<string>, play: Set<string>, hdr = false): CapabilityProbes {
	return {
		isTypeSupported: (t) => mse.has(t),
		canPlayType: (t) => (play.has(t) ? 'probably' : ''),
		matchMedia: (q) => hdr && q === '(dynamic-range: high)'
	};
}

const BOTH_CONTAINERS = new Set(['video/mp4; codecs="avc1.64001f, mp4a.40.2"', 'video/webm; codecs="vp9, opus"']);
// Debian's Chromium 156 also answers "probably" for H.264 + AAC in Matroska.
const CHROMIUM_CONTAINERS = new Set([...BOTH_CONTAINERS, 'video/x-matroska; codecs="avc1.64001f, mp4a.40.2"']);

describe('client profile', () => {
	it("gives Debian Chromium's profile: AV1, VP9, Opus and FLAC, no HEVC, no AC-3, SDR, MKV played as it is", () => {
		const tokens = measureTokens(browser(CHROMIUM_MSE, CHROMIUM_CONTAINERS));
		expect(serializeProfile(tokens)).toBe('1:avc,av1,av1_10,vp9,vp9p2,aac,mp3,opus,flac,mp4,webm,mkv');
	});

	it('declares WebM without Matroska for a browser with only a WebM demuxer (Firefox)', () => {
		const tokens = measureTokens(browser(CHROMIUM_MSE, BOTH_CONTAINERS, false), { maxHeight: 1080 });
		expect(tokens).toContain('webm');
		expect(tokens).not.toContain('mkv');
		expect(serializeProfile(tokens).endsWith(',webm,max=1080')).toBe(true);
	});

	it('declares HEVC, E-AC-3 and HDR for Safari on an HDR display', () => {
		const safari = new Set([
			'video/mp4; codecs="avc1.64001f"',
			'video/mp4; codecs="hvc1.1.6.L93.B0"',
			'video/mp4; codecs="hvc1.2.4.L93.B0"',
			'audio/mp4; codecs="mp4a.40.2"',
			'audio/mpeg',
			'audio/mp4; codecs="flac"',
			'audio/mp4; codecs="ac-3"',
			'audio/mp4; codecs="ec-3"'
		]);
		const mp4Only = new Set(['video/mp4; codecs="avc1.64001f, mp4a.40.2"']);
		const tokens = measureTokens(browser(safari, mp4Only, true), { multichannelAac: true });
		expect(serializeProfile(tokens)).toBe('1:avc,hevc,hevc10,aac,aac51,mp3,flac,ac3,eac3,mp4,hdr');
	});

	it('asks with the exact codec strings of each profile and level', () => {
		const asked: string[] = [];
		measureTokens({ isTypeSupported: (t) => (asked.push(t), false), canPlayType: () => '', matchMedia: () => false });
		expect(asked).toEqual(
			expect.arrayContaining([
				'video/mp4; codecs="avc1.64001f"',
				'video/mp4; codecs="avc1.6e001f"',
				'video/mp4; codecs="hvc1.1.6.L93.B0"',
				'video/mp4; codecs="hvc1.2.4.L93.B0"',
				'video/mp4; codecs="av01.0.05M.08"',
				'video/mp4; codecs="av01.0.05M.10"',
				'video/mp4; codecs="vp09.00.10.08"',
				'video/mp4; codecs="vp09.02.10.10"',
				'audio/mp4; codecs="ac-3"',
				'audio/mp4; codecs="ec-3"'
			])
		);
	});

	it('treats a probe that throws as unsupported and a browser without MSE as decoding nothing', () => {
		const throwing: CapabilityProbes = {
			isTypeSupported: (t) => {
				if (t.includes('hvc1')) throw new Error('bad codec string');
				return t.includes('avc1.64001f') || t.includes('mp4a');
			},
			canPlayType: () => {
				throw new Error('no');
			},
			matchMedia: () => false
		};
		expect(measureTokens(throwing)).toEqual(['avc', 'aac']);
		expect(serializeProfile(measureTokens(browser(new Set(), new Set())))).toBe('1:');
	});

	it('adds a valid height cap and ignores an impossible one', () => {
		const probes = browser(CHROMIUM_MSE, new Set());
		expect(measureTokens(probes, { maxHeight: 720 })).toContain('max=720');
		for (const bad of [0, 99999, 720.5, Number.NaN]) {
			expect(measureTokens(probes, { maxHeight: bad }).some((t) => t.startsWith('max='))).toBe(false);
		}
	});

	it('multichannel AAC is only declared on top of AAC', () => {
		expect(measureTokens(browser(new Set(), new Set()), { multichannelAac: true })).not.toContain('aac51');
	});

	it('travels as its own query parameter, leaving the rest of the URL alone', () => {
		expect(withProfile('/api/library/7/master.m3u8?t=abc.def', '1:avc,aac,mp4')).toBe(
			'/api/library/7/master.m3u8?t=abc.def&profile=1%3Aavc%2Caac%2Cmp4'
		);
		expect(withProfile('https://sokoul.example/p?x=1', '1:avc')).toBe('https://sokoul.example/p?x=1&profile=1%3Aavc');
	});

	it('is added to library HLS URLs only, beside their signed token', () => {
		const measure = () => '1:avc,av1,opus';
		expect(withBrowserProfile('/api/media/12/hls/master.m3u8?st=9.abc', measure)).toBe(
			'/api/media/12/hls/master.m3u8?st=9.abc&profile=1%3Aavc%2Cav1%2Copus'
		);
		expect(withBrowserProfile('/api/playback/r/c-_1.u2.s3/master.m3u8', measure)).toBe(
			'/api/playback/r/c-_1.u2.s3/master.m3u8?profile=1%3Aavc%2Cav1%2Copus'
		);
		for (const other of ['/api/media/12/file?st=9.abc', 'https://cdn.example/x/master.m3u8', '/api/proxy/x']) {
			expect(withBrowserProfile(other, measure)).toBe(other);
		}
	});

	it('carries the viewer’s quality choice as max= on engine URLs', () => {
		const measure = (o: { maxHeight?: number }) => serializeProfile(['avc', 'aac', ...(o.maxHeight ? [`max=${o.maxHeight}`] : [])]);
		expect(withBrowserProfile('/api/media/12/hls/v/index.m3u8', measure, { maxHeight: 480 })).toBe(
			'/api/media/12/hls/v/index.m3u8?profile=1%3Aavc%2Caac%2Cmax%3D480'
		);
		expect(withBrowserProfile('/api/media/12/hls/v/index.m3u8', measure, { maxHeight: 720 })).toContain('max%3D720');
		expect(withBrowserProfile('/api/media/12/file', measure, { maxHeight: 480 })).toBe('/api/media/12/file');
	});
});
