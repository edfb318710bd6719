/** The flow interface bundle: the executor, framework views, and each stage type's view (one line per type). */
import './executor.js';
import './views.js';
import '../../src/stages/identification/ui.js';
import '../../src/stages/password/ui.js';
import '../../src/stages/captcha/ui.js';
import '../../src/stages/authenticator_validate/ui.js';
import '../../src/stages/user_login/ui.js';
import '../../src/stages/dummy/ui.js';
import '../../src/stages/authenticator_totp/ui.js';
import '../../src/stages/authenticator_static/ui.js';
import '../../src/stages/authenticator_webauthn/ui.js';
import '../../src/stages/authenticator_email/ui.js';
import '../../src/stages/authenticator_sms/ui.js';
import '../../src/stages/authenticator_duo/ui.js';
