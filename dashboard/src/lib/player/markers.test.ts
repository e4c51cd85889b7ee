import { describe, expect, it } from 'vitest';
import { resolveResponse, streamSource } from '../../test-data/resolve';
import {
	autoSkipTarget,
	creditsReached,
	markersFor,
	NEXT_PROMPT_SECONDS,
	skipSegmentAt,
	type SkipKind
} from './markers';

const intro = { start: 5, end: 12 };
const outro = { start: 1300, end: 1380 };

describe('markersFor', () => {
	it('uses the playing source’s own markers', () => {
		const own = streamSource({ provider: 'library', markers: { intro: { start: 60, end: 90 } } });
		const response = resolveResponse({ sources: [own], markers: { intro } });

		expect(markersFor(own, response)).toEqual({ intro: { start: 60, end: 90 } });
	});

	it('uses the answer’s markers for a provider that gives them only there (Consumet)', () => {
		const consumet = streamSource({ provider: 'consumet', type: 'hls' });
		const response = resolveResponse({ sources: [consumet], markers: { intro } });

		expect(markersFor(consumet, response)).toEqual({ intro });
	});

	it('never lends one file’s markers to another source', () => {
		const a = streamSource({ provider: 'library', quality: 'a', markers: { intro } });
		const b = streamSource({ provider: 'library', quality: 'b' });
		const remote = streamSource({ provider: 'consumet', type: 'hls' });
		// The top-level markers are a copy of file a's.
		const response = resolveResponse({ sources: [a, b, remote], markers: { intro } });

		expect(markersFor(b, response)).toEqual({});
		expect(markersFor(remote, response)).toEqual({});
	});

	it('has none without a source or markers', () => {
		expect(markersFor(null, resolveResponse({ markers: { intro } }))).toEqual({});
		const source = streamSource();
		expect(markersFor(source, resolveResponse({ sources: [source], markers: {} }))).toEqual({});
	});
});

describe('skipSegmentAt', () => {
	const recap = { start: 0, end: 40 };

	it('is the intro from its start until just before its end', () => {
		expect(skipSegmentAt({ intro }, 4.9)).toBeNull();
		expect(skipSegmentAt({ intro }, 5)).toEqual({ kind: 'intro', range: intro });
		expect(skipSegmentAt({ intro }, 11.4)).toEqual({ kind: 'intro', range: intro });
		expect(skipSegmentAt({ intro }, 11.6)).toBeNull();
	});

	it('names a recap as such', () => {
		expect(skipSegmentAt({ recap, intro: { start: 40, end: 100 } }, 20)).toEqual({ kind: 'recap', range: recap });
		expect(skipSegmentAt({ recap, intro: { start: 40, end: 100 } }, 50)?.kind).toBe('intro');
	});

	it('never offers to skip the credits, nor an intro that runs into them', () => {
		expect(skipSegmentAt({ outro }, 1320)).toBeNull();
		const overlapping = { intro: { start: 0, end: 88 }, outro: { start: 60, end: 90 } };
		expect(skipSegmentAt(overlapping, 59)?.kind).toBe('intro');
		expect(skipSegmentAt(overlapping, 60)).toBeNull();
	});
});

describe('autoSkipTarget', () => {
	const segment = { kind: 'intro' as const, range: intro };

	it('skips to the end of the segment when the setting is on', () => {
		expect(autoSkipTarget(segment, true, new Set())).toBe(12);
		expect(autoSkipTarget(segment, false, new Set())).toBeNull();
		expect(autoSkipTarget(null, true, new Set())).toBeNull();
	});

	it('skips each segment once, so going back into it on purpose is respected', () => {
		const done = new Set<SkipKind>(['intro']);
		expect(autoSkipTarget(segment, true, done)).toBeNull();
		expect(autoSkipTarget({ kind: 'recap', range: { start: 0, end: 4 } }, true, done)).toBe(4);
	});
});

describe('creditsReached', () => {
	it('is due at the start of the credits marker, not a fixed time before the end', () => {
		expect(creditsReached({ outro }, 1299, 1400)).toBe(false);
		expect(creditsReached({ outro }, 1300, 1400)).toBe(true);
		// 1380 is within the last 30 s but the marker already decided.
		expect(creditsReached({ outro: { start: 1390, end: 1400 } }, 1380, 1400)).toBe(false);
	});

	it('falls back to the last seconds without a marker, and never before the duration is known', () => {
		expect(creditsReached({}, 1400 - NEXT_PROMPT_SECONDS - 1, 1400)).toBe(false);
		expect(creditsReached({}, 1400 - NEXT_PROMPT_SECONDS, 1400)).toBe(true);
		expect(creditsReached({ outro }, 1350, NaN)).toBe(false);
		expect(creditsReached({}, 0, 20)).toBe(false);
	});
});
