from django import forms

from accounts.models import User


class UserAddForm(forms.ModelForm):
    """Staff create people without a password: they sign in with their phone."""

    class Meta:
        model = User
        fields = ["phone_number", "name", "email", "address"]

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        user.set_unusable_password()
        if commit:
            user.save()
        return user


class LoginForm(forms.Form):
    phone_number = forms.CharField(
        label="Phone number",
        max_length=32,
        widget=forms.TextInput(
            attrs={
                "type": "tel",
                "autocomplete": "username webauthn",
                "inputmode": "tel",
                "placeholder": "+1 202 555 0123",
            }
        ),
    )


class DeviceNameForm(forms.Form):
    name = forms.CharField(label="Device name", max_length=64)
