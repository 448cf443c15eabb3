// Direct passkey sign-in on a device that holds one: a button, and conditional UI (autofill) where supported.
//
// One ceremony at a time. Each one writes its challenge into the session, so a second
// ceremony started while the first completes would race the sign-in: its response can
// reach the browser after the sign-in's and put back the session cookie that the
// sign-in just retired, leaving the person signed out. So the button first stops the
// autofill ceremony (its request for options too) and waits for it to settle; if the
// autofill signed the person in meanwhile, the button does nothing more.
import { credentialToJSON, postJSON, requestOptionsFromJSON, showError } from "./webauthn.js";

const box = document.getElementById("passkey-signin");
const button = document.getElementById("passkey-button");
const error = document.getElementById("passkey-error");
let autofillAbort = null;
let autofill = null; // the autofill ceremony: resolves true once it has signed the person in
let busy = false; // a button ceremony is under way
let completing = false; // a credential is being checked; stays true once signed in (the page is leaving)
let optionsPending = null; // the autofill's request for options, until its response has arrived

// The phone number form waits for that response before it is sent (at most 3 s). Both requests
// write the session: if the options' response came back after the form's, its copy of the session
// (without the new sign-in request) replaced the form's, and the waiting page then said the
// request "belongs to another browser". Only a fast submit on a slow server ever waits.
const phoneForm = document.getElementById("phone-form");
phoneForm.addEventListener("submit", (event) => {
  if (!optionsPending) return;
  event.preventDefault();
  const timeout = new Promise((resolve) => window.setTimeout(resolve, 3000));
  Promise.race([optionsPending, timeout]).then(() => phoneForm.submit());
});

// Returns true when signed in (the page is navigating away); throws on failure or abort.
async function signIn(signal) {
  const asked = postJSON(button.dataset.optionsUrl, null, { signal });
  if (signal) {
    optionsPending = asked.catch(() => null).finally(() => {
      optionsPending = null;
    });
  }
  const options = await asked;
  if (!options.ok) throw new Error("options");
  const request = { publicKey: requestOptionsFromJSON(options.data) };
  if (signal) {
    request.mediation = "conditional";
    request.signal = signal; // already aborted: get() rejects at once
  }
  const credential = await navigator.credentials.get(request);
  if (completing) return false;
  completing = true;
  let result;
  try {
    result = await postJSON(button.dataset.completeUrl, credentialToJSON(credential));
  } catch (e) {
    completing = false;
    throw e;
  }
  if (!result.ok) {
    completing = false;
    throw new Error(result.data.message || "failed");
  }
  window.location.assign(result.data.redirect);
  return true;
}

function startAutofill() {
  if (busy || completing || !PublicKeyCredential.isConditionalMediationAvailable) return;
  PublicKeyCredential.isConditionalMediationAvailable().then((available) => {
    if (!available || busy || completing) return;
    autofillAbort = new AbortController();
    autofill = signIn(autofillAbort.signal).catch(() => false);
  });
}

if (window.PublicKeyCredential) {
  box.hidden = false;
  button.addEventListener("click", async () => {
    if (busy || completing) return;
    busy = true;
    error.hidden = true;
    let failed = false;
    try {
      if (autofillAbort) autofillAbort.abort();
      if (autofill && (await autofill)) return;
      await signIn(null);
    } catch (e) {
      failed = true;
      showError(error, "No passkey signed you in. Use your phone number instead.");
    } finally {
      busy = false;
    }
    if (failed) startAutofill(); // the passkey stays offered in the phone number's autofill
  });
  // Back to this page from the next one (back-forward cache): the sign-in it was leaving for is over.
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    completing = false;
    busy = false;
    startAutofill();
  });
  startAutofill();
}
