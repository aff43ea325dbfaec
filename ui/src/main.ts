import { mount } from 'svelte';
import { invoke } from '@tauri-apps/api/core';
import App from './App.svelte';
import { AppState } from './lib/app.svelte';
import { TauriTransport, inDesktopApp } from './lib/tauri';
import './app.css';

// Inside the desktop app the CTI link goes through the Rust relay; in a browser, straight to
// the server's WebSocket. The page's own host means nothing in the app.
const desktop = inDesktopApp();
const app = new AppState(
  desktop ? { makeTransport: (url) => new TauriTransport(url), defaultServer: '' } : {},
);
document.documentElement.lang = app.lang;
document.title = app.t('app.title');
mount(App, { target: document.getElementById('app')!, props: { app } });
if (desktop) void invoke('ui_ready').catch(() => {});
