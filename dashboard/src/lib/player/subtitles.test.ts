import { describe, expect, it } from 'vitest';
import { activeCues, clampOffset, mergeCues, parseSubtitles } from './subtitles';

describe('parseSubtitles', () => {
	it('reads WebVTT with a header, cue ids, settings and markup', () => {
		const vtt = [
			'WEBVTT',
			'Kind: captions',
			'',
			'NOTE a comment',
			'',
			'intro',
			'00:00:01.000 --> 00:00:03.500 align:start line:0',
			'<i>Hello</i> &amp; <c.yellow>welcome</c>',
			'',
			'01:02.250 --> 01:04.000',
			'Second',
			'line'
		].join('\n');

		expect(parseSubtitles(vtt)).toEqual([
			{ start: 1, end: 3.5, text: 'Hello & welcome' },
			{ start: 62.25, end: 64, text: 'Second\nline' }
		]);
	});

	it('reads SRT with CRLF line endings, a BOM and comma milliseconds', () => {
		const srt = '\uFEFF1\r\n00:00:10,500 --> 00:00:12,000\r\n{\\an8}Bonjour\r\n\r\n2\r\n01:00:00,000 --> 01:00:02,100\r\nFin\r\n';

		expect(parseSubtitles(srt)).toEqual([
			{ start: 10.5, end: 12, text: 'Bonjour' },
			{ start: 3600, end: 3602.1, text: 'Fin' }
		]);
	});

	it('skips malformed cues instead of failing', () => {
		const broken = '1\n00:00:05,000 --> 00:00:04,000\nbackwards\n\n2\nnot a timing\ntext\n\n3\n00:00:06,000 --> 00:00:07,000\nok';
		expect(parseSubtitles(broken)).toEqual([{ start: 6, end: 7, text: 'ok' }]);
	});
});

describe('activeCues', () => {
	const cues = [
		{ start: 10, end: 12, text: 'a' },
		{ start: 11, end: 13, text: 'b' },
		{ start: 20, end: 22, text: 'c' }
	];

	it('returns the cues covering the time, end excluded', () => {
		expect(activeCues(cues, 11.5).map((c) => c.text)).toEqual(['a', 'b']);
		expect(activeCues(cues, 12).map((c) => c.text)).toEqual(['b']);
		expect(activeCues(cues, 15)).toEqual([]);
	});

	it('a positive offset shows subtitles later', () => {
		expect(activeCues(cues, 20.5, 0.5).map((c) => c.text)).toEqual(['c']);
		expect(activeCues(cues, 20.4, 0.5)).toEqual([]);
		expect(activeCues(cues, 19.6, -0.5).map((c) => c.text)).toEqual(['c']);
	});
});

describe('mergeCues', () => {
	it('adds new cues in time order and drops repeats from overlapping segments', () => {
		const merged = mergeCues(
			[{ start: 5, end: 6, text: 'x' }],
			[
				{ start: 1, end: 2, text: 'y' },
				{ start: 5, end: 6, text: 'x' }
			]
		);
		expect(merged.map((c) => c.text)).toEqual(['y', 'x']);
	});
});

describe('clampOffset', () => {
	it('rounds to a tenth and bounds the offset', () => {
		expect(clampOffset(0.30000000000000004)).toBe(0.3);
		expect(clampOffset(-1000)).toBe(-60);
	});
});
