// The household's accounts from the dashboard (issue 16, Deliver 1 and 2), on the server with an
// admin: "Mon compte" lists this browser among the open sessions; the admin adds a member, who
// watches but cannot manage accounts; disabling the member ends the member's session at once; a
// new password makes the old one useless; deleting the account ends it for good.
import type { Page } from '@playwright/test';
import { axeSerious } from './support/axe';
import { expect, servers, snap, test } from './support/fixtures';

const MEMBER = 'lea';
const FIRST = 'first password';
const SECOND = 'second password';

async function logIn(page: Page, username: string, password: string) {
	await page.goto(`${servers.secure}/`);
	await page.getByTestId('login-username').fill(username);
	await page.getByTestId('login-password').fill(password);
	await page.getByTestId('login-submit').click();
}

function row(page: Page, username: string) {
	return page.locator(`[data-testid=account-item][data-username="${username}"]`);
}

test('an admin adds, disables, resets and deletes a member from "Mon compte"', async ({ page, browser }, testInfo) => {
	await logIn(page, servers.user, servers.password);
	await page.getByTestId('current-user').click();
	await expect(page).toHaveURL(/\/account$/);

	// This browser is among the account's sessions, named as a person would name it.
	const mine = page.locator('[data-testid=session-item][data-current=true]');
	await expect(mine).toContainText('Chrome · Linux');
	await expect(mine).toContainText('Cet appareil');

	const household = page.getByTestId('household');
	await expect(row(page, servers.user)).toContainText('Vous');
	// No way to lock oneself out from one's own row.
	await expect(row(page, servers.user).getByTestId('account-delete')).toHaveCount(0);

	await page.getByTestId('account-username').fill(MEMBER);
	await page.getByTestId('account-password').fill(FIRST);
	await page.getByTestId('account-create').click();
	await expect(household.getByRole('status')).toHaveText(`Compte ${MEMBER} créé.`);
	await expect(row(page, MEMBER)).toContainText('Membre');
	await snap(page, testInfo, 'account-admin');
	expect(await axeSerious(page, testInfo, 'account')).toEqual([]);

	// The member, in a browser of their own: watches, sees their sessions, no household section.
	const theirs = await browser.newContext();
	const member = await theirs.newPage();
	await logIn(member, MEMBER, FIRST);
	await expect(member.getByTestId('current-user')).toHaveText(MEMBER);
	await member.goto(`${servers.secure}/account`);
	await expect(member.getByTestId('sessions')).toBeVisible();
	await expect(member.getByTestId('household')).toHaveCount(0);
	expect((await theirs.request.get(`${servers.secure}/api/auth/users`)).status()).toBe(403);

	// Disabled: the member's session ends at once, and the password no longer opens anything.
	await row(page, MEMBER).getByTestId('account-toggle').click();
	await expect(row(page, MEMBER).getByTestId('account-disabled')).toHaveText('Désactivé');
	expect((await theirs.request.get(`${servers.secure}/api/auth/sessions`)).status()).toBe(401);
	await logIn(member, MEMBER, FIRST);
	await expect(member.getByTestId('login-error')).toBeVisible();

	// Enabled again with a new password: the old one is refused, the new one works.
	await row(page, MEMBER).getByTestId('account-toggle').click();
	await expect(row(page, MEMBER).getByTestId('account-disabled')).toHaveCount(0);
	await row(page, MEMBER).getByRole('button', { name: 'Nouveau mot de passe' }).click();
	await row(page, MEMBER).getByTestId('account-new-password').fill(SECOND);
	await row(page, MEMBER).getByRole('button', { name: 'Enregistrer' }).click();
	await expect(household.getByRole('status')).toHaveText(`Mot de passe de ${MEMBER} changé ; ses sessions sont fermées.`);
	await logIn(member, MEMBER, FIRST);
	await expect(member.getByTestId('login-error')).toBeVisible();
	await logIn(member, MEMBER, SECOND);
	await expect(member.getByTestId('current-user')).toHaveText(MEMBER);

	// Deleted (after a confirmation): the account and its session are gone.
	await row(page, MEMBER).getByTestId('account-delete').click();
	await row(page, MEMBER).getByTestId('account-delete-confirm').click();
	await expect(row(page, MEMBER)).toHaveCount(0);
	expect((await theirs.request.get(`${servers.secure}/api/auth/sessions`)).status()).toBe(401);
	await theirs.close();
});
