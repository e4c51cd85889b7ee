// Keyboard shortcuts as a pure mapping (YouTube/Jellyfin conventions), so the bindings are tested
// without a DOM.

export type PlayerCommand =
	| { kind: 'toggle-play' }
	| { kind: 'seek-by'; seconds: number }
	| { kind: 'seek-to-fraction'; fraction: number }
	| { kind: 'volume-by'; delta: number }
	| { kind: 'toggle-mute' }
	| { kind: 'toggle-fullscreen' }
	| { kind: 'toggle-subtitles' }
	| { kind: 'skip-segment' };

export interface KeyInput {
	key: string;
	ctrlKey?: boolean;
	metaKey?: boolean;
	altKey?: boolean;
	/** Tag name of the focused element. */
	targetTag?: string;
	/** `type` of a focused `<input>`. */
	targetType?: string;
	targetEditable?: boolean;
}

/** J/L jump like YouTube (10 s); arrows take smaller steps (5 s). */
export const LONG_SEEK = 10;
export const SHORT_SEEK = 5;
export const VOLUME_STEP = 0.05;

const TYPING_TAGS = new Set(['TEXTAREA', 'SELECT']);
/** Inputs that take no text: the seek and volume sliders must not swallow the shortcuts. */
const NON_TEXT_INPUTS = new Set(['range', 'checkbox', 'radio', 'button']);

function isTyping(input: KeyInput): boolean {
	if (input.targetEditable) return true;
	if (input.targetTag === 'INPUT') return !NON_TEXT_INPUTS.has(input.targetType ?? 'text');
	return input.targetTag !== undefined && TYPING_TAGS.has(input.targetTag);
}

export function keyToCommand(input: KeyInput): PlayerCommand | null {
	// Leave browser and OS shortcuts alone, and never steal keys from a text field or select.
	if (input.ctrlKey || input.metaKey || input.altKey) return null;
	if (isTyping(input)) return null;

	const key = input.key.length === 1 ? input.key.toLowerCase() : input.key;
	switch (key) {
		case ' ':
		case 'k':
			return { kind: 'toggle-play' };
		case 'j':
			return { kind: 'seek-by', seconds: -LONG_SEEK };
		case 'l':
			return { kind: 'seek-by', seconds: LONG_SEEK };
		case 'ArrowLeft':
			return { kind: 'seek-by', seconds: -SHORT_SEEK };
		case 'ArrowRight':
			return { kind: 'seek-by', seconds: SHORT_SEEK };
		case 'ArrowUp':
			return { kind: 'volume-by', delta: VOLUME_STEP };
		case 'ArrowDown':
			return { kind: 'volume-by', delta: -VOLUME_STEP };
		case 'f':
			return { kind: 'toggle-fullscreen' };
		case 'm':
			return { kind: 'toggle-mute' };
		case 'c':
			return { kind: 'toggle-subtitles' };
		case 's':
			return { kind: 'skip-segment' };
	}
	if (/^[0-9]$/.test(key)) return { kind: 'seek-to-fraction', fraction: Number(key) / 10 };
	return null;
}
