// The engine's quality choices (`docs/playback.md`, "Quality"): besides the file's own picture,
// a transcode at 1080p, 720p or 480p, each with the bitrate cap the server ties to its height
// (`Quality::default_max_kbps` in `src/playback/plan.rs`). The choice travels as `max=<height>`
// in the client profile, so only the rendition being watched is encoded. Multi-variant HLS
// sources (Consumet) keep their own ladder: the menu lists hls.js levels there instead.

export const ENGINE_QUALITIES = ['original', '1080', '720', '480'] as const;
export type EngineQuality = (typeof ENGINE_QUALITIES)[number];

/** The height cap a choice puts in the profile; none for `original`. */
export function qualityMaxHeight(quality: EngineQuality): number | undefined {
	return quality === 'original' ? undefined : Number(quality);
}

/** Which quality menu the player shows for the source being played. */
export type QualityMenu = 'levels' | 'engine' | 'none';

/** The source's own ladder when it has one, else the engine's choices when it packages the source. */
export function qualityMenu(levelCount: number, enginePackaged: boolean): QualityMenu {
	if (levelCount > 1) return 'levels';
	return enginePackaged ? 'engine' : 'none';
}

// A library file played as it is (`/api/media/<id>/file`) and its HLS through the engine.
const LIBRARY_FILE = /^(?:https?:\/\/[^/]+)?\/api\/media\/(\d+)\/file(?:[?#]|$)/;

/**
 * The source to play for a quality choice: a library file played as it is cannot be scaled,
 * so any choice but `original` moves to the same file's engine HLS when the list has it.
 */
export function sourceForQuality(urls: readonly string[], index: number, quality: EngineQuality): number {
	if (quality === 'original') return index;
	const id = LIBRARY_FILE.exec(urls[index] ?? '')?.[1];
	if (id === undefined) return index;
	const twin = new RegExp(`^(?:https?://[^/]+)?/api/media/${id}/hls/`);
	const found = urls.findIndex((u) => twin.test(u));
	return found === -1 ? index : found;
}
