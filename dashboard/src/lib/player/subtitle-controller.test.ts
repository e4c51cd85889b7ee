import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { SubtitleTrack } from '$lib/api/types';
import { PREFERENCES_KEY } from './preferences';
import { SubtitleController, type SubtitleEvents, type SubtitleHls } from './subtitle-controller.svelte';

const EVENTS = { SUBTITLE_TRACKS_UPDATED: 'tracks', CUES_PARSED: 'cues' } as unknown as SubtitleEvents;

/** Just enough of an hls.js instance: its subtitle tracks, the selected one, and an emitter. */
class FakeHls {
	subtitleTracks: Array<{ id: number; lang?: string; name: string }> = [];
	subtitleTrack = -1;
	#listeners = new Map<string, Set<(...args: unknown[]) => void>>();

	on(event: string, listener: (...args: unknown[]) => void) {
		if (!this.#listeners.has(event)) this.#listeners.set(event, new Set());
		this.#listeners.get(event)!.add(listener);
	}
	off(event: string, listener: (...args: unknown[]) => void) {
		this.#listeners.get(event)?.delete(listener);
	}
	emit(event: string, data: unknown = {}) {
		for (const listener of this.#listeners.get(event) ?? []) listener(event, data);
	}
	tracks(...tracks: Array<{ id: number; lang?: string; name: string }>) {
		this.subtitleTracks = tracks;
		this.emit('tracks');
	}
	cues(trackId: number, ...cues: Array<[number, number, string]>) {
		this.emit('cues', {
			type: 'subtitles',
			subtitleTrack: { id: trackId },
			cues: cues.map(([startTime, endTime, text]) => ({ startTime, endTime, text }))
		});
	}
}

function attach(controller: SubtitleController, hls: FakeHls) {
	return controller.attach(hls as unknown as SubtitleHls, EVENTS);
}

const french: SubtitleTrack = { url: 'https://subs.example/fr.vtt', lang: 'fr', label: 'Français', provider: 'x' };
const english: SubtitleTrack = { url: 'https://subs.example/en.vtt', lang: 'en', label: '', provider: 'x' };

function prefer(subtitleLang: string) {
	localStorage.setItem(PREFERENCES_KEY, JSON.stringify({ subtitleLang }));
}

beforeEach(() => localStorage.clear());

describe('SubtitleController, given the files of a resolve response', () => {
	it('lists them and turns on the stored language, loading its cues', async () => {
		prefer('fr-FR');
		const fetchText = vi.fn().mockResolvedValue('WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<i>Salut</i>');
		const subtitles = new SubtitleController({ fetchText });

		subtitles.load([english, french]);

		expect(subtitles.options).toEqual([
			{ id: 'ext:0', lang: 'en', label: 'en' },
			{ id: 'ext:1', lang: 'fr', label: 'Français' }
		]);
		expect(subtitles.selected).toBe('ext:1');
		await vi.waitFor(() => expect(subtitles.cues).toEqual([{ start: 1, end: 2, text: 'Salut' }]));
		expect(fetchText).toHaveBeenCalledWith(french);
	});

	it("adds the playing source's own tracks after them, and drops them for another source", () => {
		prefer('fr');
		const subtitles = new SubtitleController({ fetchText: () => new Promise(() => {}) });
		subtitles.load([english]);
		expect(subtitles.selected).toBeNull();

		subtitles.setSourceTracks([french]);
		expect(subtitles.options.map((o) => o.id)).toEqual(['ext:0', 'ext:1']);
		expect(subtitles.selected).toBe('ext:1');

		subtitles.select('ext:1');
		subtitles.setSourceTracks([]);
		expect(subtitles.options.map((o) => o.lang)).toEqual(['en']);
		expect(subtitles.selected).toBeNull();
	});

	it('shows nothing without a stored language, and reports a file that cannot be loaded', async () => {
		const subtitles = new SubtitleController({ fetchText: () => Promise.reject(new Error('404')) });
		subtitles.load([french]);
		expect(subtitles.selected).toBeNull();

		subtitles.select('ext:0');

		await vi.waitFor(() => expect(subtitles.error).toBe(true));
		expect(subtitles.cues).toEqual([]);
		expect(JSON.parse(localStorage.getItem(PREFERENCES_KEY)!).subtitleLang).toBe('fr');
	});

	it('toggles off, then back on to the last shown option, and remembers "off"', () => {
		const subtitles = new SubtitleController({ fetchText: () => new Promise(() => {}) });
		subtitles.load([english, french]);
		subtitles.select('ext:1');

		subtitles.toggle();
		expect(subtitles.selected).toBeNull();
		expect(JSON.parse(localStorage.getItem(PREFERENCES_KEY)!).subtitleLang).toBe('off');

		subtitles.toggle();
		expect(subtitles.selected).toBe('ext:1');
	});

	it('starts each title with no offset but keeps the size choice for the next player', () => {
		const subtitles = new SubtitleController();
		subtitles.setOffset(2.04);
		subtitles.setSize('l');
		expect(subtitles.offset).toBe(2);

		subtitles.load([]);

		expect(subtitles.offset).toBe(0);
		expect(new SubtitleController().size).toBe('l');
	});
});

describe('SubtitleController, attached to an HLS stream', () => {
	it('adds the stream tracks, selects the stored language on hls.js and merges its cues', () => {
		prefer('en');
		const subtitles = new SubtitleController();
		subtitles.load([french]);
		const hls = new FakeHls();
		attach(subtitles, hls);

		hls.tracks({ id: 0, lang: 'de', name: 'Deutsch' }, { id: 1, lang: 'en', name: '' });

		expect(subtitles.options.map((o) => [o.id, o.label])).toEqual([
			['ext:0', 'Français'],
			['hls:0', 'Deutsch'],
			['hls:1', 'en']
		]);
		expect(subtitles.selected).toBe('hls:1');
		expect(hls.subtitleTrack).toBe(1);

		hls.cues(1, [4, 5, 'b']);
		hls.cues(1, [1, 2, 'a'], [4, 5, 'b']);
		hls.cues(0, [1, 2, 'other track']);
		expect(subtitles.cues.map((c) => c.text)).toEqual(['a', 'b']);
	});

	it('keeps the viewer’s own choice when the stream updates its tracks', () => {
		prefer('en');
		const subtitles = new SubtitleController();
		subtitles.load([]);
		const hls = new FakeHls();
		attach(subtitles, hls);
		hls.tracks({ id: 0, lang: 'en', name: 'English' }, { id: 1, lang: 'de', name: 'Deutsch' });

		subtitles.select('hls:1');
		hls.tracks({ id: 0, lang: 'en', name: 'English' }, { id: 1, lang: 'de', name: 'Deutsch' });

		expect(subtitles.selected).toBe('hls:1');
		expect(hls.subtitleTrack).toBe(1);
	});

	it('forgets the stream on teardown and ignores what the old instance still sends', () => {
		prefer('en');
		const subtitles = new SubtitleController();
		subtitles.load([french]);
		const hls = new FakeHls();
		const detach = attach(subtitles, hls);
		hls.tracks({ id: 0, lang: 'en', name: 'English' });
		hls.cues(0, [1, 2, 'hello']);
		expect(subtitles.cues).toHaveLength(1);

		detach();
		hls.tracks({ id: 0, lang: 'en', name: 'English' }, { id: 1, lang: 'de', name: 'Deutsch' });
		hls.cues(0, [3, 4, 'late']);

		expect(subtitles.options.map((o) => o.id)).toEqual(['ext:0']);
		expect(subtitles.cues).toEqual([]);
	});
});

describe('SubtitleController, given an image subtitle (burned in by the server)', () => {
	// French like `french`, but only as a burned-in stream.
	const pgs: SubtitleTrack = { ...french, url: '/api/media/7/hls/master.m3u8?burn=i0', burn_in: 'i0' };

	it('offers it as such, never picks it unasked, and burns it only when chosen', async () => {
		prefer('fr');
		const fetchText = vi.fn().mockResolvedValue('WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHello');
		const onBurn = vi.fn();
		const subtitles = new SubtitleController({ fetchText, onBurn });

		subtitles.load([english, pgs]);

		expect(subtitles.options[1]).toEqual({ id: 'ext:1', lang: 'fr', label: 'Français', image: true });
		expect(subtitles.selected).toBeNull();
		expect(onBurn).not.toHaveBeenCalledWith(pgs);

		subtitles.select('ext:1');
		expect(onBurn).toHaveBeenLastCalledWith(pgs);
		expect(subtitles.selected).toBe('ext:1');
		expect(subtitles.cues).toEqual([]);
		expect(fetchText).not.toHaveBeenCalled();

		subtitles.select('ext:0');
		expect(onBurn).toHaveBeenLastCalledWith(null);
		await vi.waitFor(() => expect(subtitles.cues).toHaveLength(1));

		subtitles.select('ext:1');
		subtitles.select(null);
		expect(onBurn).toHaveBeenLastCalledWith(null);
	});
});

describe('SubtitleController, given a styled ASS track', () => {
	const styled: SubtitleTrack = {
		url: '/api/media/1/subtitles/s0.vtt',
		lang: 'ja',
		label: 'Signs',
		provider: 'library',
		format: 'ass',
		ass_url: '/api/media/1/subtitles/s0.ass'
	};

	it('hands it to the ASS renderer instead of drawing cues, and takes it back for another track or off', () => {
		const fetchText = vi.fn().mockResolvedValue('WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nPlain');
		const subtitles = new SubtitleController({ fetchText, styledSupported: true });
		subtitles.load([styled, french]);

		subtitles.select('ext:0');
		expect(subtitles.styled).toBe(styled);
		expect(subtitles.cues).toEqual([]);
		expect(fetchText).not.toHaveBeenCalled();

		subtitles.select('ext:1');
		expect(subtitles.styled).toBeNull();
		subtitles.select('ext:0');
		subtitles.select(null);
		expect(subtitles.styled).toBeNull();
	});

	it('falls back to its WebVTT when the renderer fails, for the rest of this title', async () => {
		const fetchText = vi.fn().mockResolvedValue('WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nSIGN');
		const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
		const subtitles = new SubtitleController({ fetchText, styledSupported: true });
		subtitles.load([styled]);
		subtitles.select('ext:0');

		subtitles.styledFailed(styled, new Error('no wasm'));

		expect(subtitles.styled).toBeNull();
		await vi.waitFor(() => expect(subtitles.cues.map((c) => c.text)).toEqual(['SIGN']));
		expect(fetchText).toHaveBeenCalledWith(styled);
		expect(warn).toHaveBeenCalled();
		subtitles.select(null);
		subtitles.select('ext:0');
		expect(subtitles.styled).toBeNull();
		warn.mockRestore();
	});

	it('shows its WebVTT in a browser that cannot run the renderer', async () => {
		const fetchText = vi.fn().mockResolvedValue('WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nSIGN');
		const subtitles = new SubtitleController({ fetchText, styledSupported: false });
		subtitles.load([styled]);
		subtitles.select('ext:0');

		expect(subtitles.styled).toBeNull();
		await vi.waitFor(() => expect(subtitles.cues).toHaveLength(1));
	});
});
