// The player's subtitles: the files of the resolve response and the subtitle tracks of an HLS
// stream, one selection, the cues to draw, their size and offset. HlsPlayer owns one and attaches
// it to each hls.js instance it starts; components read its $state fields.
import type { CuesParsedData } from 'hls.js';
import type Hls from 'hls.js';
import { fetchSubtitleText } from '$lib/api/client';
import type { SubtitleTrack } from '$lib/api/types';
import { loadPreferences, sameLanguage, savePreferences } from './preferences';
import { canRenderStyled, styledUrl } from './styled-subtitles';
import { clampOffset, mergeCues, parseSubtitles, plainText, type Cue, type SubtitleSize } from './subtitles';

export interface SubtitleOption {
	/** `ext:<n>` for a file from the resolve response, `hls:<id>` for a track of the HLS stream. */
	id: string;
	lang: string;
	label: string;
	/** An image subtitle: shown only burned into the picture (the stream is reloaded for it). */
	image?: true;
	/** A forced track (HLS `FORCED=YES`). */
	forced?: true;
}

/** What the controller uses of an hls.js instance (a fake in tests). */
export type SubtitleHls = Pick<Hls, 'subtitleTracks' | 'subtitleTrack' | 'on' | 'off'>;

/** The two hls.js event names it listens to; passed in so this module never loads hls.js itself. */
export interface SubtitleEvents {
	SUBTITLE_TRACKS_UPDATED: (typeof Hls.Events)['SUBTITLE_TRACKS_UPDATED'];
	CUES_PARSED: (typeof Hls.Events)['CUES_PARSED'];
}

export interface SubtitleControllerOptions {
	/** Replaceable in tests. */
	fetchText?: (track: SubtitleTrack) => Promise<string>;
	/**
	 * Called with the image subtitle to burn in when one is shown, with null when anything else
	 * is (text subtitles or none): the player reloads its stream when that changes the picture.
	 */
	onBurn?: (track: SubtitleTrack | null) => void;
	/** Whether the browser can run the ASS renderer; replaceable in tests. */
	styledSupported?: boolean;
	/**
	 * The viewer's languages (`languages.ts`): the option to show, null for none, undefined for
	 * no opinion (then the device's last choice applies).
	 */
	choose?: (options: SubtitleOption[]) => string | null | undefined;
	/** The viewer picked subtitles: their language, or `off`. */
	onSelect?: (lang: string) => void;
}

export class SubtitleController {
	options = $state.raw<SubtitleOption[]>([]);
	/** The shown option's id, null when off. */
	selected = $state<string | null>(null);
	/** The selected file could not be loaded. */
	error = $state(false);
	size = $state<SubtitleSize>('m');
	/** Seconds; positive shows subtitles later. */
	offset = $state(0);
	/** Cues of the selected subtitles. */
	cues = $state.raw<Cue[]>([]);
	/** The selected track when it is drawn by the ASS renderer (then `cues` stays empty). */
	styled = $state.raw<SubtitleTrack | null>(null);

	#fetchText: (track: SubtitleTrack) => Promise<string>;
	#onBurn: (track: SubtitleTrack | null) => void;
	#choose: SubtitleControllerOptions['choose'];
	#onSelect: (lang: string) => void;
	#hls: SubtitleHls | null = null;
	#external: SubtitleTrack[] = [];
	/** The resolve answer's tracks: the first of `#external`, before the source's own. */
	#resolved: SubtitleTrack[] = [];
	#externalCues = new Map<string, Cue[]>();
	#hlsCues = new Map<number, Cue[]>();
	#hlsOptions: SubtitleOption[] = [];
	/** The user picked subtitles (or none) during this load; stop applying the stored preference. */
	#chosen = false;
	#lastSelected: string | null = null;
	#styledSupported: boolean;
	/** ASS URLs the renderer failed on during this load: their WebVTT is shown instead. */
	#styledFailed = new Set<string>();

	constructor(options: SubtitleControllerOptions = {}) {
		this.#fetchText = options.fetchText ?? ((track) => fetchSubtitleText(track));
		this.#onBurn = options.onBurn ?? (() => {});
		this.#choose = options.choose;
		this.#onSelect = options.onSelect ?? (() => {});
		this.#styledSupported = options.styledSupported ?? canRenderStyled();
		this.size = loadPreferences().subtitleSize;
	}

	/** A new title: its subtitle files, the stored language applied, the offset back to zero. */
	load(tracks: SubtitleTrack[]): void {
		this.#resolved = tracks;
		this.#external = tracks;
		this.#externalCues.clear();
		this.#styledFailed.clear();
		this.#chosen = false;
		this.offset = 0;
		this.#rebuildOptions();
		this.#applyPreference();
	}

	/**
	 * The tracks embedded in the source now playing (a remote file the engine packages: listed
	 * by the server once it has probed it), after the resolve answer's; `[]` for another source.
	 * The stored language applies to them as to the others, unless the viewer already chose.
	 */
	setSourceTracks(tracks: SubtitleTrack[]): void {
		const shown = this.#external[Number(this.selected?.slice(4))];
		this.#external = [...this.#resolved, ...tracks];
		for (const key of [...this.#externalCues.keys()]) {
			if (Number(key.slice(4)) >= this.#resolved.length) this.#externalCues.delete(key);
		}
		this.#rebuildOptions();
		if (!this.#chosen) this.#applyPreference();
		else if (this.selected?.startsWith('ext:') && !this.#external.includes(shown)) void this.#show(null);
	}

	/** No title any more: nothing shown. */
	clear(): void {
		this.selected = null;
		this.cues = [];
		this.styled = null;
	}

	/** The ASS renderer could not show `track`: its WebVTT from now on (logged, not an error). */
	styledFailed(track: SubtitleTrack, error: unknown): void {
		console.warn('styled subtitles cannot be rendered; showing them as plain text', error);
		if (track.ass_url) this.#styledFailed.add(track.ass_url);
		if (this.styled === track) void this.#show(this.selected);
	}

	/**
	 * Follows the subtitle tracks of one hls.js instance; returns the teardown, to run before the
	 * instance is destroyed (track ids of the next stream need not match: its own
	 * SUBTITLE_TRACKS_UPDATED re-selects).
	 */
	attach(hls: SubtitleHls, events: SubtitleEvents): () => void {
		this.#hls = hls;
		const onTracks = () => this.#syncHlsTracks();
		const onCues = (_event: unknown, data: CuesParsedData) => this.#addHlsCues(data);
		hls.on(events.SUBTITLE_TRACKS_UPDATED, onTracks);
		hls.on(events.CUES_PARSED, onCues);
		return () => {
			hls.off(events.SUBTITLE_TRACKS_UPDATED, onTracks);
			hls.off(events.CUES_PARSED, onCues);
			if (this.#hls === hls) this.#hls = null;
			this.#hlsCues.clear();
			this.#hlsOptions = [];
			this.#rebuildOptions();
			if (this.selected?.startsWith('hls:')) this.cues = [];
		};
	}

	/** The user picked subtitles (`null` = off); remembered for the next episode. */
	select(id: string | null): void {
		this.#chosen = true;
		const option = this.options.find((o) => o.id === id);
		savePreferences({ subtitleLang: option ? option.lang || option.label : 'off' });
		if (!option) this.#onSelect('off');
		else if (option.lang) this.#onSelect(option.lang);
		void this.#show(option ? option.id : null);
	}

	/** Off when on; otherwise the last shown, else the stored language, else the first. */
	toggle(): void {
		if (this.selected) {
			this.select(null);
			return;
		}
		const previous = this.options.find((o) => o.id === this.#lastSelected);
		const wanted = loadPreferences().subtitleLang;
		// Never burned in unasked: that reloads the stream as a transcode.
		const drawn = this.options.filter((o) => !o.image);
		const preferred = wanted ? drawn.find((o) => sameLanguage(o.lang, wanted)) : undefined;
		const option = previous ?? preferred ?? drawn[0];
		if (option) this.select(option.id);
	}

	setSize(size: SubtitleSize): void {
		this.size = size;
		savePreferences({ subtitleSize: size });
	}

	setOffset(offset: number): void {
		this.offset = clampOffset(offset);
	}

	#rebuildOptions(): void {
		const external = this.#external.map(
			(track, i): SubtitleOption => ({
				id: `ext:${i}`,
				lang: track.lang,
				label: track.label || track.lang,
				...(track.burn_in ? { image: true as const } : {})
			})
		);
		this.options = [...external, ...this.#hlsOptions];
	}

	#syncHlsTracks(): void {
		const hls = this.#hls;
		if (!hls) return;
		this.#hlsOptions = hls.subtitleTracks.map((track) => ({
			id: `hls:${track.id}`,
			lang: track.lang ?? '',
			label: track.name || track.lang || `#${track.id}`,
			...(track.forced ? { forced: true as const } : {})
		}));
		this.#rebuildOptions();
		if (!this.#chosen) this.#applyPreference();
		else if (this.selected?.startsWith('hls:')) void this.#show(this.selected);
	}

	#addHlsCues(data: CuesParsedData): void {
		const trackId = data.subtitleTrack?.id;
		if (data.type !== 'subtitles' || trackId === undefined) return;
		const incoming: Cue[] = (data.cues as Array<{ startTime: number; endTime: number; text: string }>).map(
			(cue) => ({ start: cue.startTime, end: cue.endTime, text: plainText(cue.text) })
		);
		const merged = mergeCues(this.#hlsCues.get(trackId) ?? [], incoming);
		this.#hlsCues.set(trackId, merged);
		if (this.selected === `hls:${trackId}`) this.cues = merged;
	}

	/** A new language mode was chosen: it applies again, over this title's earlier pick. */
	forgetChoice(): void {
		this.#chosen = false;
	}

	/** The viewer's languages changed (loaded, or the audio track chosen): applied unless the viewer picked. */
	reapply(): void {
		if (!this.#chosen) this.#applyPreference();
	}

	/** Applies the viewer's languages, else the stored subtitle language, if the options offer it. */
	#applyPreference(): void {
		const chosen = this.#choose?.(this.options);
		if (chosen !== undefined) {
			if (chosen !== this.selected) void this.#show(chosen);
			return;
		}
		const wanted = loadPreferences().subtitleLang;
		if (!wanted || wanted === 'off') {
			void this.#show(null);
			return;
		}
		// An image subtitle only when chosen: burning it in reloads the stream as a transcode.
		const match = this.options.find((o) => !o.image && sameLanguage(o.lang, wanted));
		void this.#show(match?.id ?? null);
	}

	async #show(id: string | null): Promise<void> {
		this.selected = id;
		this.error = false;
		if (id) this.#lastSelected = id;
		const hlsTrack = id?.startsWith('hls:') ? Number(id.slice(4)) : -1;
		if (this.#hls) this.#hls.subtitleTrack = hlsTrack;
		const track = id?.startsWith('ext:') ? this.#external[Number(id.slice(4))] : undefined;
		this.#onBurn(track?.burn_in ? track : null);
		const styled = track && styledUrl(track, this.#styledFailed, this.#styledSupported) ? track : null;
		if (this.styled !== styled) this.styled = styled;
		// Nothing to draw here: none, drawn by the ASS renderer, or burned into the picture.
		if (!id || styled || track?.burn_in) {
			this.cues = [];
			return;
		}
		if (hlsTrack >= 0) {
			this.cues = this.#hlsCues.get(hlsTrack) ?? [];
			return;
		}
		if (!track) return;
		let cues = this.#externalCues.get(id);
		if (!cues) {
			this.cues = [];
			try {
				cues = parseSubtitles(await this.#fetchText(track));
				this.#externalCues.set(id, cues);
			} catch {
				if (this.selected === id) this.error = true;
				return;
			}
		}
		if (this.selected === id) this.cues = cues;
	}
}
