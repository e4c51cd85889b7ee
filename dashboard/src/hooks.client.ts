// Runs once in the browser before any page loads: the interface language must be set before a
// `load` writes a message (route-params' errors) or a component renders one.
import type { ClientInit } from '@sveltejs/kit';
import { initLanguage } from '$lib/i18n/preference';

export const init: ClientInit = () => {
	initLanguage();
};
