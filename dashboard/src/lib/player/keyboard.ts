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
	| { kind: 'skip-segment' }
	| { kind: 'rate-step'; direction: 1 | -1 }
	| { kind: 'show-help' };

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
	/** The focused element is a button, link or switch: Space and Enter press it. */
	targetPressable?: boolean;
	/** The focused element is a slider that moves with the arrows (volume), unlike the seek bar. */
	targetOwnsArrows?: boolean;
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
	if ((input.key === ' ' || input.key === 'Enter') && input.targetPressable) return null;
	if (input.key.startsWith('Arrow') && input.targetOwnsArrows) return null;

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
		// YouTube's Shift+. and Shift+, (the characters, whatever the layout).
		case '>':
			return { kind: 'rate-step', direction: 1 };
		case '<':
			return { kind: 'rate-step', direction: -1 };
		case '?':
			return { kind: 'show-help' };
	}
	if (/^[0-9]$/.test(key)) return { kind: 'seek-to-fraction', fraction: Number(key) / 10 };
	return null;
}

/** The rate after `current` in `rates` (sorted ascending), clamped at both ends. */
export function stepRate(rates: readonly number[], current: number, direction: 1 | -1): number {
	const index = rates.findIndex((rate) => rate >= current - 1e-9);
	const at = index === -1 ? rates.length - 1 : index;
	// A rate between two steps (set elsewhere) moves to the neighbour in the asked direction.
	const exact = Math.abs(rates[at] - current) < 1e-9;
	const next = direction === 1 ? (exact ? at + 1 : at) : at - 1;
	return rates[Math.max(0, Math.min(rates.length - 1, next))];
}

/** What the `?` overlay lists, in order: keys as printed on a keyboard (`space` is translated). */
export const SHORTCUTS = [
	{ keys: ['space', 'K'], action: 'toggle-play' },
	{ keys: ['←', '→'], action: 'seek-short' },
	{ keys: ['J', 'L'], action: 'seek-long' },
	{ keys: ['↑', '↓'], action: 'volume' },
	{ keys: ['M'], action: 'mute' },
	{ keys: ['0…9'], action: 'seek-fraction' },
	{ keys: ['<', '>'], action: 'speed' },
	{ keys: ['C'], action: 'subtitles' },
	{ keys: ['S'], action: 'skip' },
	{ keys: ['F'], action: 'fullscreen' },
	{ keys: ['?'], action: 'help' }
] as const;
