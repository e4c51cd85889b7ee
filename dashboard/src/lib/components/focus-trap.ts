// A Svelte action for dialogs and menus drawn over the player: takes focus when it appears,
// keeps Tab inside, closes on Escape and gives focus back to whatever had it before (the
// button that opened it), as the WAI-ARIA dialog pattern asks.

const FOCUSABLE = 'button:not([disabled]), [href], input:not([disabled]), select, [tabindex]:not([tabindex="-1"])';

export interface FocusTrapOptions {
	onEscape?: () => void;
	/** ↑/↓ move between the items (a menu), instead of reaching the player's shortcuts. */
	arrows?: boolean;
}

export function focusables(node: HTMLElement): HTMLElement[] {
	return [...node.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el.getClientRects().length > 0);
}

/** Focuses the selected option if there is one (a menu page), else the first control. */
export function focusFirst(node: HTMLElement): void {
	const selected = node.querySelector<HTMLElement>('[aria-pressed="true"], [aria-checked="true"][role="radio"]');
	(selected ?? focusables(node)[0] ?? node).focus();
}

function move(node: HTMLElement, by: 1 | -1): void {
	const items = focusables(node);
	if (!items.length) return;
	const at = items.indexOf(document.activeElement as HTMLElement);
	const next = at === -1 ? (by === 1 ? 0 : items.length - 1) : (at + by + items.length) % items.length;
	items[next].focus();
}

export function focusTrap(node: HTMLElement, options: FocusTrapOptions = {}) {
	let current = options;
	const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
	if (!node.hasAttribute('tabindex')) node.tabIndex = -1;
	focusFirst(node);

	function onKeydown(event: KeyboardEvent) {
		if (event.key === 'Escape' && current.onEscape) {
			event.preventDefault();
			event.stopPropagation();
			current.onEscape();
		} else if (event.key === 'Tab') {
			event.preventDefault();
			move(node, event.shiftKey ? -1 : 1);
		} else if (current.arrows && (event.key === 'ArrowDown' || event.key === 'ArrowUp')) {
			event.preventDefault();
			move(node, event.key === 'ArrowDown' ? 1 : -1);
		}
	}
	node.addEventListener('keydown', onKeydown);

	return {
		update(next: FocusTrapOptions) {
			current = next;
		},
		destroy() {
			node.removeEventListener('keydown', onKeydown);
			const active = document.activeElement;
			// Only when focus would otherwise be lost: a click elsewhere keeps its own focus.
			if (opener?.isConnected && (!active || active === document.body || node.contains(active))) {
				opener.focus();
			}
		}
	};
}
