// views/login.js owns the sign-in page: a token typed into form#login, tried against GET /v1/session, kept for the tab.

import { h } from '../dom.js';
import { go, parse, showError } from '../router.js';
import { signIn, takeFlash, known } from '../session.js';
import { token } from '../api.js';

export async function loginView({ query }) {
	const flash = takeFlash();
	const message = h('p', { id: 'login-message', class: 'notice', 'aria-live': 'polite' },
		flash && !flash.problem ? flash.message : '');
	if (!flash || flash.problem)
		message.hidden = true;
	if (flash && flash.problem)
		showError(flash.message);
	const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off',
		spellcheck: 'false', required: true, 'aria-describedby': 'token-help' });
	const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
	const form = h('form', { id: 'login', class: 'login-form', novalidate: true },
		h('div', { class: 'field' },
			h('label', { for: 'token' }, 'API token'),
			input,
			h('p', { id: 'token-help', class: 'help' },
				'The token an administrator created for you with ',
				h('code', null, 'ictmonctl token create'),
				'. It is kept in this tab only and forgotten when you sign out or close it.')),
		button);
	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		const value = input.value.trim();
		if (!value) {
			message.hidden = false;
			message.textContent = 'Type your token first.';
			input.focus();
			return;
		}
		button.disabled = true;
		message.hidden = false;
		message.textContent = 'Checking the token…';
		try {
			await signIn(value);
			const next = query.next && query.next.startsWith('/') && parse('#' + query.next).path !== '/login'
				? '#' + query.next : '#/';
			go(next);
		} catch (err) {
			button.disabled = false;
			message.textContent = err.status === 401
				? 'The server did not accept this token. Check it and try again.'
				: err.message;
			showError(message.textContent);
			input.focus();
		}
	});
	const who = token() ? known() : null;
	return h('div', { class: 'login' },
		h('div', { class: 'view-head' }, h('h1', null, 'Sign in'),
			h('p', { class: 'sub' }, 'ictmon watches the government\'s ICT projects, purchases and budget, ' +
				'and shows where agencies spend twice on the same thing.')),
		who ? h('p', { class: 'notice' }, 'You are signed in already. ', h('a', { href: '#/' }, 'Go to the overview'),
			' or sign in with another token.') : null,
		message, form);
}
