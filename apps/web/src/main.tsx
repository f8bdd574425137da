import { unstableSetRender } from 'antd-mobile';
import { StrictMode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { App } from './App.js';
import { initI18n } from './i18n.js';
import './styles.css';

// antd-mobile 5 renders Toast and Dialog with the pre-19 ReactDOM.render; give it React 19's root API.
const roots = new WeakMap<Element | DocumentFragment, Root>();
unstableSetRender((node, container) => {
  let root = roots.get(container);
  if (!root) {
    root = createRoot(container);
    roots.set(container, root);
  }
  root.render(node);
  return async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
    root.unmount();
    roots.delete(container);
  };
});

const element = document.getElementById('root');
if (!element) throw new Error('index.html has no #root element');
await initI18n();
// The merchant portal is its own chunk (Ant Design): only paths under /merchant download it.
if (/^\/merchant(\/|$)/.test(window.location.pathname)) {
  const { renderMerchantPortal } = await import('./merchant/main.js');
  renderMerchantPortal(element);
} else {
  createRoot(element).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
