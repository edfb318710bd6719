/**
 * Loads a captcha provider's script from `js_url` and renders its widget; works with the JavaScript APIs of
 * Cloudflare Turnstile, hCaptcha and Google reCAPTCHA (v2 checkbox when interactive, v3/invisible otherwise).
 */
export interface CaptchaParams {
  site_key: string;
  js_url: string;
  interactive: boolean;
}

const loaded = new Map<string, Promise<void>>();

function loadScript(src: string): Promise<void> {
  let p = loaded.get(src);
  if (!p) {
    p = new Promise<void>((resolve, reject) => {
      const s = document.createElement('script');
      s.src = src;
      s.async = true;
      s.onload = () => resolve();
      s.onerror = () => reject(new Error('captcha script failed to load'));
      document.head.appendChild(s);
    });
    loaded.set(src, p);
  }
  return p;
}

const w = window as unknown as Record<string, any>;

/** renders into `container`; `onToken` receives each token the provider issues */
export async function renderCaptcha(container: HTMLElement, params: CaptchaParams, onToken: (token: string) => void): Promise<void> {
  await loadScript(params.js_url);
  const sitekey = params.site_key;
  if (w.turnstile) {
    w.turnstile.render(container, { sitekey, callback: onToken, appearance: params.interactive ? 'always' : 'interaction-only' });
    return;
  }
  if (w.hcaptcha) {
    const id = w.hcaptcha.render(container, { sitekey, callback: onToken, size: params.interactive ? 'normal' : 'invisible' });
    if (!params.interactive) w.hcaptcha.execute(id);
    return;
  }
  if (w.grecaptcha) {
    const g = w.grecaptcha;
    if (params.interactive) {
      g.ready(() => g.render(container, { sitekey, callback: onToken }));
    } else {
      g.ready(() => g.execute(sitekey, { action: 'login' }).then(onToken));
    }
    return;
  }
  throw new Error('unknown captcha provider');
}
