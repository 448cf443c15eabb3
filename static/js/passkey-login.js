// Direct passkey sign-in on a device that holds one: a button, and conditional UI (autofill) where supported.
import { credentialToJSON, postJSON, requestOptionsFromJSON, showError } from "./webauthn.js";

const box = document.getElementById("passkey-signin");
const button = document.getElementById("passkey-button");
const error = document.getElementById("passkey-error");
let conditional = null;
// One sign-in completes at a time: autofill may resolve just as the button is pressed.
let completing = false;

async function signIn(mediation) {
  const options = await postJSON(button.dataset.optionsUrl);
  if (!options.ok) throw new Error("options");
  const request = { publicKey: requestOptionsFromJSON(options.data) };
  if (mediation) {
    conditional = new AbortController();
    request.mediation = mediation;
    request.signal = conditional.signal;
  }
  const credential = await navigator.credentials.get(request);
  if (completing) return;
  completing = true;
  const result = await postJSON(button.dataset.completeUrl, credentialToJSON(credential));
  completing = false;
  if (!result.ok) throw new Error(result.data.message || "failed");
  window.location.assign(result.data.redirect);
}

if (window.PublicKeyCredential) {
  box.hidden = false;
  button.addEventListener("click", async () => {
    if (completing) return;
    if (conditional) conditional.abort();
    conditional = null;
    error.hidden = true;
    try {
      await signIn(null);
    } catch (e) {
      completing = false;
      showError(error, "No passkey signed you in. Use your phone number instead.");
    }
  });
  if (PublicKeyCredential.isConditionalMediationAvailable) {
    PublicKeyCredential.isConditionalMediationAvailable().then((available) => {
      if (available) signIn("conditional").catch(() => {});
    });
  }
}
