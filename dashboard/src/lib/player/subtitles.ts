// Subtitles are drawn by the player itself (not the browser's ::cue rendering) so that size and a
// timing offset can be changed live, the same way for external files and HLS subtitle tracks.

export interface Cue {
	start: number;
	end: number;
	text: string;
}

/** `01:02:03.456`, `02:03.456` or SRT's `01:02:03,456` → seconds. */
function parseTimestamp(value: string): number | null {
	const match = /^(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})$/.exec(value.trim());
	if (!match) return null;
	const [, h, m, s, ms] = match;
	return Number(h ?? 0) * 3600 + Number(m) * 60 + Number(s) + Number(ms.padEnd(3, '0')) / 1000;
}

/** Markup in cue text (`<i>`, `<c.yellow>`, `{\an8}`) is dropped: cues are shown as plain text. */
export function plainText(text: string): string {
	return text
		.replace(/<[^>]*>/g, '')
		.replace(/\{\\[^}]*\}/g, '')
		.replace(/&amp;/g, '&')
		.replace(/&lt;/g, '<')
		.replace(/&gt;/g, '>')
		.replace(/&nbsp;/g, '\u00a0')
		.trim();
}

/** Parses WebVTT or SRT. Blocks that are not cues (headers, NOTE, STYLE) are skipped. */
export function parseSubtitles(input: string): Cue[] {
	const cues: Cue[] = [];
	const blocks = input.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n').split(/\n{2,}/);
	for (const block of blocks) {
		const lines = block.split('\n');
		const timingAt = lines.findIndex((line) => line.includes('-->'));
		if (timingAt < 0 || timingAt > 1) continue;
		const [from, rest] = lines[timingAt].split('-->');
		const start = parseTimestamp(from);
		// WebVTT cue settings (`align:start line:0`) may follow the end time.
		const end = parseTimestamp(rest.trim().split(/\s+/)[0] ?? '');
		if (start === null || end === null || end <= start) continue;
		const text = plainText(lines.slice(timingAt + 1).join('\n'));
		if (text) cues.push({ start, end, text });
	}
	return cues.sort((a, b) => a.start - b.start);
}

/**
 * The cues showing at `time`, with the user's `offset` in seconds (positive = subtitles later,
 * for subtitles that come too early).
 */
export function activeCues(cues: readonly Cue[], time: number, offset = 0): Cue[] {
	const t = time - offset;
	return cues.filter((cue) => cue.start <= t && t < cue.end);
}

/** Adds cues that hls.js delivers fragment by fragment, without duplicates (segments overlap). */
export function mergeCues(existing: readonly Cue[], incoming: readonly Cue[]): Cue[] {
	const seen = new Set(existing.map((c) => `${c.start}|${c.end}|${c.text}`));
	const added = incoming.filter((c) => {
		const key = `${c.start}|${c.end}|${c.text}`;
		if (seen.has(key)) return false;
		seen.add(key);
		return true;
	});
	return added.length ? [...existing, ...added].sort((a, b) => a.start - b.start) : [...existing];
}

export const SUBTITLE_SIZES = ['s', 'm', 'l', 'xl'] as const;
export type SubtitleSize = (typeof SUBTITLE_SIZES)[number];

/** Offset steps: 0.1 s is fine enough for lip sync, 0.5 s for a typical subtitle/video mismatch. */
export const SUBTITLE_OFFSET_LIMIT = 60;

export function clampOffset(offset: number): number {
	const rounded = Math.round(offset * 10) / 10;
	return Math.max(-SUBTITLE_OFFSET_LIMIT, Math.min(SUBTITLE_OFFSET_LIMIT, rounded));
}
