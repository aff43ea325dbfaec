import { mount } from 'svelte';
import App from './App.svelte';
import { AppState } from './lib/app.svelte';
import './app.css';

const app = new AppState();
document.documentElement.lang = app.lang;
document.title = app.t('app.title');
mount(App, { target: document.getElementById('app')!, props: { app } });
